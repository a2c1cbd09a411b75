from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The suite runs on 2 cores next to other work; one intra-op thread keeps it predictable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (real NATS-Bench table and image samples)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (../shared/data beside the "
                    "checkout); these checks need it")
    return SHARED_DATA
