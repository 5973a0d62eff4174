from nexgate.chat.adapters.sql.models import metadata
from nexgate.kernel.sql.migrations import run_env

run_env(metadata)
