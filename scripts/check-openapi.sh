#!/usr/bin/env bash
# Validates the OpenAPI document against the OpenAPI 3.1 specification (openapi-spec-validator,
# PyPI): structure, JSON Schemas, unique operationIds, path parameters that are declared.
#
#   scripts/check-openapi.sh                    # docs/openapi.json (what the server serves)
#   scripts/check-openapi.sh path/to/doc.json   # any other copy (fuzz.sh checks the served one)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.9.0
if [ "$(python3 -m pip show openapi-spec-validator 2>/dev/null | sed -n 's/^Version: //p')" != "$VERSION" ]; then
    echo "installing openapi-spec-validator $VERSION (PyPI)…"
    python3 -m pip install --quiet "openapi-spec-validator==$VERSION"
fi

python3 -m openapi_spec_validator --validation-errors all "${@:-docs/openapi.json}"
