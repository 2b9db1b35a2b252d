"""A tiny base model (trained once per session) and site homes made from it."""

from __future__ import annotations

import pytest
import torch

from engine.federated import sitedata


@pytest.fixture(scope="session")
def base_package(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the shared CPU is oversubscribed: one thread is faster
    try:
        folder = tmp_path_factory.mktemp("fed-base") / f"{sitedata.NAME}-{sitedata.VERSION}"
        yield sitedata.build_base_model(folder)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
