from nexgate.kernel.sql.migrations import run_env
from nexgate.profiles.adapters.sql.models import metadata

run_env(metadata)
