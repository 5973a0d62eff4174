from nexgate.kernel.sql.migrations import run_env
from nexgate.skeleton.adapters.sql.models import metadata

run_env(metadata)
