"""connection: local — three Apache servers on this machine from inventory/local-apache.yaml."""
import shutil
import subprocess

import pytest

from conftest import ROOT, run_zkops, wait_status


def test_local_apache_ensemble(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("no java")
    dist = tmp_path / "apache-dist"
    subprocess.run([str(ROOT / "scripts/make-apache-dist"), str(dist)], check=True, capture_output=True)
    text = (ROOT / "inventory/local-apache.yaml").read_text()
    text = text.replace("../run/apache-dist", str(dist)).replace("../run/local-apache", str(tmp_path / "servers"))
    inv = tmp_path / "local.yaml"
    inv.write_text(text)
    try:
        r = run_zkops("deploy", "-i", inv, "--timeout", "150")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        rc, js = wait_status(str(inv), 0, timeout=10)
        assert rc == 0, js
        r = run_zkops("deploy", "-i", inv, "--timeout", "60")
        assert r.returncode == 0 and "nothing changed" in r.stdout, r.stderr
    finally:
        run_zkops("stop", "-i", inv)
