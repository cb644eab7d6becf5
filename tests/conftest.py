import os

from hypothesis import HealthCheck, settings

# Profiles as polars has them: quick locally, thorough in CI (HYPOTHESIS_PROFILE=ci).
settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
