# bumper's own image, for CI systems other than GitHub Actions (GitLab CI, Tekton, Argo
# Workflows, Jenkins) and for `docker run … bumper set-image`.
#
# The image installs bumper and its dependencies from wheels in dist/, built beforehand
# with a Python of the same version as the base image's:
#     pip wheel . -w dist/
#     docker build -t bumper .
# so the build needs no package index. BASE_IMAGE must provide python3 (3.10 or newer)
# with the venv module; git is installed from the base's apt sources when missing.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

RUN if ! command -v git >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends git ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY dist/*.whl /tmp/wheels/
RUN python3 -m venv /opt/bumper \
    && /opt/bumper/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels bumper \
    && rm -rf /tmp/wheels \
    && /opt/bumper/bin/bumper --version

ENV PATH=/opt/bumper/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Mounted work trees belong to another user: let git work in them.
RUN git config --system --add safe.directory '*'
WORKDIR /work
ENTRYPOINT ["bumper"]
CMD ["--help"]
