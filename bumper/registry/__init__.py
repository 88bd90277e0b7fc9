"""Talk to container registries (Distribution API v2): tags, digests, existence, auth.

Layers, each importable without the others' weight (``requests`` is imported only when a
request is made):

- ``endpoint``: which host and scheme serve a repository (Docker Hub's defaults, Docker's
  loopback/insecure rule);
- ``credentials``: what to log in with (explicit, the Docker config and its helpers,
  ``GITHUB_TOKEN`` for ghcr.io inside Actions); ``auth``: challenges and cached tokens;
- ``client``: ``RegistryClient`` (auth challenges, retries, pagination, concurrency) and
  the one-call helpers ``resolve_digest`` / ``check_exists``;
- ``policy`` and ``ranges``: which tag is newest under a policy;
- ``markers``: per-reference policies written as comments in the manifests; ``flux``:
  Flux's ImagePolicy/ImageRepository objects for its ``$imagepolicy`` markers;
- ``verify``: every reference exists; ``update``: bump each reference to its newest tag.
"""
