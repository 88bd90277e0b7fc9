# bumper's own image, for CI systems other than GitHub Actions (GitLab CI, Tekton, Argo
# Workflows, Jenkins) and for `docker run … bumper set-image`.
#
# It installs what the GitHub Action installs: the dependencies pinned with their hashes
# in requirements.lock (`pip install --require-hashes`), then bumper, built from these
# sources with the lock's setuptools. The lock's files come from dist/, downloaded
# beforehand with a Python of the base image's version, so the build needs no package
# index:
#     pip download --require-hashes -r requirements.lock -d dist/
#     docker build -t bumper .
# BASE_IMAGE must provide python3 (3.10 or newer) with the venv module; git is installed
# from the base's apt sources when missing.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

RUN if ! command -v git >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends git ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY dist/ /tmp/bumper/dist/
COPY requirements.lock pyproject.toml README.md /tmp/bumper/
COPY bumper/ /tmp/bumper/bumper/
RUN python3 -m venv /opt/bumper \
    && pip="/opt/bumper/bin/pip --disable-pip-version-check --no-cache-dir" \
    && $pip install --no-index --find-links /tmp/bumper/dist \
        --require-hashes --requirement /tmp/bumper/requirements.lock \
    && $pip install --no-index --no-deps --no-build-isolation /tmp/bumper \
    && rm -rf /tmp/bumper \
    && /opt/bumper/bin/bumper --version

ENV PATH=/opt/bumper/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Mounted work trees belong to another user: let git work in them.
RUN git config --system --add safe.directory '*'
WORKDIR /work
ENTRYPOINT ["bumper"]
CMD ["--help"]
