"""The warning policy the repository ships (config/warning_policy.yaml), for engine tests: the engine itself knows
no default file; the app names it in its config."""
from config import CONFIG_DIR
from screening import load_policy

SHIPPED_POLICY_PATH = CONFIG_DIR / "warning_policy.yaml"
POLICY = load_policy(SHIPPED_POLICY_PATH)
