# Nexgate: `just dev` runs the platform, `just test` runs every test.

set dotenv-load := false

# list the recipes
default:
    @just --list

# install the workspace (every member and the dev tools) from uv.lock
install:
    uv sync --locked

# start PostgreSQL, Redis and RabbitMQ if they are down (docker compose where Docker runs)
services:
    ./scripts/services.sh

# run the platform all-in-one: install, services, migrate, seed demo data, api + worker on :8000
dev port="8000": install services
    uv run nexgate dev --port {{port}}

# run the whole test suite (unit, integration on the real services, contract, end-to-end)
test *args: install services
    uv run pytest -n auto --dist loadfile {{args}}

# ruff, formatting, mypy and the import-linter architecture rules
lint: install
    uv run ruff check .
    uv run ruff format --check .
    uv run mypy packages/*/src apps/*/src contracts/src
    uv run lint-imports

# format the code
fmt:
    uv run ruff format .
    uv run ruff check --fix .

# write the OpenAPI document and the AsyncAPI snapshots
docs: install
    uv run nexgate openapi --out docs/openapi.json
    NEXGATE_CONTEXTS=all NEXGATE_MESSAGING_NAMESPACE= NEXGATE_RABBITMQ_URL=amqp://guest:guest@localhost:5672/ uv run faststream docs gen --factory nexgate.worker.app:create_app --out contracts/asyncapi/nexgate.json
    NEXGATE_CONTEXTS=skeleton NEXGATE_MESSAGING_NAMESPACE= NEXGATE_RABBITMQ_URL=amqp://guest:guest@localhost:5672/ uv run faststream docs gen --factory nexgate.worker.app:create_app --out contracts/asyncapi/skeleton.json

# upgrade the databases of the hosted contexts
migrate: install services
    uv run nexgate migrate

# run the benchmarks (ratios to same-run baselines) into bench/results
bench: install services
    uv run python bench/run.py

# build every workspace member into dist/
build:
    uv build --all-packages

# remove local state, caches and build output
clean:
    rm -rf var dist .pytest_cache .ruff_cache .mypy_cache .hypothesis bench/results/*.json bench/results/*.png
    find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
