from nexgate.kernel.sql.migrations import run_env
from nexgate.payments.adapters.sql.models import metadata

run_env(metadata)
