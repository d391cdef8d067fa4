"""scripts/serve.py's stack: a server whose port was taken between free_port() and its bind starts on another one."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from scripts.serve import PrefectStack, free_port
from tests.system.support import ROOT

pytestmark = pytest.mark.system  # starts a Prefect server


def test_a_server_whose_port_another_process_took_starts_on_a_new_free_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        stack = PrefectStack(home=tmp_path / "home", port=port, logs=ROOT / "test-output" / "serve" / "logs")
        try:
            stack.start_server(new_ports=2)
            assert stack.port != port
            with urllib.request.urlopen(f"{stack.api_url}/health", timeout=10) as r:
                assert r.status == 200
        finally:
            stack.down()
