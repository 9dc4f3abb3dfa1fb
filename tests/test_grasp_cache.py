"""Tests for unilab_envs.grasp_cache (store + resolver). Never touches the real internet."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from unilab_envs.grasp_cache import (
    CacheKey,
    GraspCacheCorrupt,
    GraspCacheMissing,
    GraspCacheStale,
    default_cache_dir,
    format_scale,
    generate_command,
    load_grasps,
    read_metadata,
    resolve_grasp_cache,
    save_grasps,
    sidecar_path,
)
from unilab_envs.grasp_cache import resolver as resolver_mod

KEY = CacheKey("allegro", "ball", 1.0, "hash-a")
CMD = "python -m unilab_envs.collect_grasps --hand allegro --object ball --scale 1.0 --num-grasps 5000"


def make_grasps(n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.hstack([rng.uniform(-1, 1, (n, 16)), rng.uniform(-0.1, 0.1, (n, 3)), q])


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No hub, no real cache dir, unless a test opts in."""
    monkeypatch.setenv("UNILAB_CACHE_DIR", str(tmp_path / "default_cache"))
    monkeypatch.setenv("UNILAB_GRASP_HUB_REPO", "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_format_scale_and_filename():
    assert format_scale(1.0) == "1.0"
    assert format_scale(1) == "1.0"
    assert format_scale(0.9) == "0.9"
    assert format_scale(0.85) == "0.85"
    assert format_scale(1.25) == "1.25"
    assert format_scale(2.0) == "2.0"
    assert KEY.filename == "allegro_ball_grasp_1.0.npy"
    assert CacheKey("allegro", "ball", 0.9, "h").filename == "allegro_ball_grasp_0.9.npy"
    assert CacheKey("a", "b", 0.85, "h", prefix="custom").filename == "custom_0.85.npy"
    assert sidecar_path("d/allegro_ball_grasp_1.0.npy") == Path("d/allegro_ball_grasp_1.0.json")
    assert generate_command(KEY) == CMD
    with pytest.raises(ValueError):
        format_scale(float("nan"))


def test_round_trip(tmp_path):
    data = make_grasps()
    path = save_grasps(tmp_path / "sub" / KEY.filename, data, KEY, {"min_contacts": 3}, extra={"seed": 1})
    assert path == tmp_path / "sub" / KEY.filename
    out = load_grasps(path, KEY)
    assert out.dtype == np.float32 and out.shape == (8, 23)
    np.testing.assert_array_equal(out, data.astype(np.float32))
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0, 0] = 1.0
    meta = json.loads((tmp_path / "sub" / "allegro_ball_grasp_1.0.json").read_text())
    assert meta["format_version"] == 1
    assert (meta["hand"], meta["object_type"], meta["scale"], meta["model_hash"]) == ("allegro", "ball", 1.0, "hash-a")
    assert meta["columns"] == list(KEY.columns) and meta["columns"][-4:] == ["obj_qw", "obj_qx", "obj_qy", "obj_qz"]
    assert meta["criteria"] == {"min_contacts": 3} and meta["extra"] == {"seed": 1}
    assert meta["num_grasps"] == 8 and "created_utc" in meta and "unilab_envs_version" in meta
    assert read_metadata(path) == meta
    # a directory target uses key.filename
    assert save_grasps(tmp_path, data, KEY, {}) == tmp_path / KEY.filename


def test_atomic_write_no_temp_files_and_failed_save_keeps_old(tmp_path):
    good = make_grasps()
    path = save_grasps(tmp_path / KEY.filename, good, KEY, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allegro_ball_grasp_1.0.json", "allegro_ball_grasp_1.0.npy"]
    bad = make_grasps(seed=1)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_grasps(path, bad, KEY, {})
    with pytest.raises(ValueError):
        save_grasps(path, good, KEY, {"not_json": object()})
    with pytest.raises(ValueError):
        save_grasps(path, good[:, :5], KEY, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allegro_ball_grasp_1.0.json", "allegro_ball_grasp_1.0.npy"]
    np.testing.assert_array_equal(load_grasps(path, KEY), good.astype(np.float32))


def test_missing(tmp_path):
    with pytest.raises(GraspCacheMissing):
        load_grasps(tmp_path / KEY.filename, KEY)


def _save_then(tmp_path, mutate_array=None):
    path = save_grasps(tmp_path / KEY.filename, make_grasps(), KEY, {})
    if mutate_array is not None:
        arr = mutate_array(np.load(path).copy())
        np.save(path, arr)  # written behind the sidecar's back
    return path


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda a: a[:, :20], "columns"),
        (lambda a: a[:0], "no grasps"),
        (lambda a: np.where(np.arange(23) == 0, np.inf, a).astype(np.float32), "NaN or inf"),
        (lambda a: np.where(np.arange(23) == 0, np.nan, a).astype(np.float32), "NaN or inf"),
        (lambda a: np.hstack([a[:, :19], a[:, 19:] * 1.1]), "quaternion"),
        (lambda a: a.astype(np.float64), "float32"),
        (lambda a: a[0], "2-D"),
        (lambda a: a[:4], "metadata says"),
        (lambda a: a + np.eye(8, 23, dtype=np.float32) * 0.01, "checksum"),
    ],
)
def test_corrupt_arrays(tmp_path, mutate, match):
    path = _save_then(tmp_path, mutate)
    with pytest.raises(GraspCacheCorrupt, match=match):
        load_grasps(path, KEY)


def test_corrupt_garbage_bytes_and_sidecar(tmp_path):
    path = _save_then(tmp_path)
    path.write_bytes(b"this is not a numpy file at all")
    with pytest.raises(GraspCacheCorrupt, match="unreadable"):
        load_grasps(path, KEY)
    path = save_grasps(path, make_grasps(), KEY, {})
    sidecar_path(path).write_text("{not json")
    with pytest.raises(GraspCacheCorrupt, match="unreadable"):
        load_grasps(path, KEY)
    sidecar_path(path).unlink()
    with pytest.raises(GraspCacheCorrupt, match="missing"):
        load_grasps(path, KEY)


@pytest.mark.parametrize(
    "other, field, exp, found",
    [
        (CacheKey("allegro", "ball", 1.0, "hash-OLD"), "model_hash", "'hash-a'", "'hash-OLD'"),
        (CacheKey("sharpa", "ball", 1.0, "hash-a"), "hand", "'allegro'", "'sharpa'"),
        (CacheKey("allegro", "ball", 0.9, "hash-a"), "scale", "1.0", "0.9"),
        (CacheKey("allegro", "ball", 1.0, "hash-a", columns=tuple(f"c{i}" for i in range(23))), "columns", "", ""),
    ],
)
def test_stale(tmp_path, other, field, exp, found):
    path = save_grasps(tmp_path / KEY.filename, make_grasps(), other, {})
    with pytest.raises(GraspCacheStale) as info:
        load_grasps(path, KEY)
    msg = str(info.value)
    assert str(path) in msg and f"{field} differs" in msg and CMD in msg
    assert f"expected {exp}" in msg and f"found {found}" in msg


def test_scale_tolerance(tmp_path):
    path = save_grasps(tmp_path / KEY.filename, make_grasps(), KEY, {})
    assert load_grasps(path, CacheKey("allegro", "ball", 1.0 + 5e-7, "hash-a")).shape == (8, 23)


@pytest.mark.parametrize("given", ["folder", "caches/my_grasp", "caches/my_grasp.npy", "caches/my_grasp_1.0.npy"])
def test_explicit_missing_suggests_a_command_that_writes_there(tmp_path, given):
    """The command in a missing explicit path's error writes (``collect_grasps``' own naming) where that path is
    looked up, not into the local cache folder."""
    import shlex

    from unilab_envs.collect_grasps import output_path

    (tmp_path / "folder").mkdir()
    with pytest.raises(GraspCacheMissing) as info:
        resolve_grasp_cache(KEY, explicit_path=tmp_path / given, cache_dir=tmp_path / "empty")
    command = str(info.value).splitlines()[-1].strip()
    assert command.startswith(CMD + " --out ")
    args = shlex.split(command)
    written = output_path(args[args.index("--out") + 1], KEY.scale)
    if given.endswith("_1.0.npy"):
        assert written == tmp_path / given  # the very file asked for
    save_grasps(written, make_grasps(), KEY, {})
    assert resolve_grasp_cache(KEY, explicit_path=tmp_path / given, cache_dir=tmp_path / "empty").path == written


def test_stale_explicit_file_suggests_rewriting_it(tmp_path):
    stale = save_grasps(tmp_path / "mine" / KEY.filename, make_grasps(), CacheKey("allegro", "ball", 1.0, "old"), {})
    with pytest.raises(GraspCacheStale) as info:
        resolve_grasp_cache(KEY, explicit_path=stale)
    assert f"{CMD} --out {tmp_path / 'mine' / 'allegro_ball_grasp'}" in str(info.value)


# ---------------------------------------------------------------- resolver


def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir() == tmp_path / "default_cache"
    monkeypatch.delenv("UNILAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "unilab_envs" / "grasps"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "unilab_envs" / "grasps"


def test_cache_dir_from_env(tmp_path):
    save_grasps(tmp_path / "default_cache" / KEY.filename, make_grasps(), KEY, {})
    res = resolve_grasp_cache(KEY)
    assert res.source == "local" and res.path == tmp_path / "default_cache" / KEY.filename


def test_explicit_beats_local(tmp_path):
    local = save_grasps(tmp_path / "cache" / KEY.filename, make_grasps(seed=1), KEY, {})
    explicit = save_grasps(tmp_path / "mine" / "x.npy", make_grasps(seed=2), KEY, {})
    res = resolve_grasp_cache(KEY, explicit_path=explicit, cache_dir=local.parent)
    assert res.source == "explicit" and res.path == explicit
    np.testing.assert_array_equal(res.grasps, make_grasps(seed=2).astype(np.float32))


def test_explicit_bad_raises_without_fallback(tmp_path):
    cache = tmp_path / "cache"
    save_grasps(cache / KEY.filename, make_grasps(), KEY, {})
    gen_calls = []
    with pytest.raises(GraspCacheMissing, match="no fallback"):
        resolve_grasp_cache(KEY, explicit_path=tmp_path / "nope.npy", cache_dir=cache,
                            allow_generate=True, generate=gen_calls.append)
    stale = save_grasps(tmp_path / "stale.npy", make_grasps(), CacheKey("allegro", "ball", 1.0, "other"), {})
    with pytest.raises(GraspCacheStale, match="model_hash differs"):
        resolve_grasp_cache(KEY, explicit_path=stale, cache_dir=cache)
    assert gen_calls == []


@pytest.mark.parametrize("given", ["caches/my_allegro_grasp", "caches/my_allegro_grasp.npy"])
def test_explicit_prefix(tmp_path, given):
    key = CacheKey("allegro", "ball", 1.0, "hash-a", prefix="my_allegro_grasp")
    target = save_grasps(tmp_path / "caches" / "my_allegro_grasp_1.0.npy", make_grasps(), key, {})
    res = resolve_grasp_cache(KEY, explicit_path=tmp_path / given, cache_dir=tmp_path / "empty")
    assert res.source == "explicit" and res.path == target


def test_local_stale_falls_through_to_generate(tmp_path, caplog):
    cache = tmp_path / "cache"
    stale = save_grasps(cache / KEY.filename, make_grasps(), CacheKey("allegro", "ball", 1.0, "old"), {})
    calls = []

    def generate(target: Path) -> None:
        calls.append(target)
        save_grasps(target, make_grasps(seed=5), KEY, {"generated": True})

    with caplog.at_level(logging.WARNING):
        res = resolve_grasp_cache(KEY, cache_dir=cache, allow_generate=True, generate=generate)
    assert calls == [cache / KEY.filename]
    assert res.source == "generated" and res.path == stale
    assert read_metadata(res.path)["model_hash"] == "hash-a"
    assert any(str(stale) in r.getMessage() and "model_hash" in r.getMessage() for r in caplog.records)


def test_local_stale_is_not_deleted(tmp_path):
    stale = save_grasps(tmp_path / KEY.filename, make_grasps(), CacheKey("allegro", "ball", 1.0, "old"), {})
    with pytest.raises(GraspCacheMissing):
        resolve_grasp_cache(KEY, cache_dir=tmp_path)
    assert stale.exists() and sidecar_path(stale).exists()


def test_offline_hub_then_generate(tmp_path, monkeypatch):
    monkeypatch.setenv("UNILAB_GRASP_HUB_REPO", "someone/repo")
    calls = []
    res = resolve_grasp_cache(KEY, cache_dir=tmp_path, allow_generate=True,
                              generate=lambda p: (calls.append(p), save_grasps(p, make_grasps(), KEY, {})))
    assert res.source == "generated" and calls == [tmp_path / KEY.filename]


def test_nothing_available_lists_everything(tmp_path):
    with pytest.raises(GraspCacheMissing) as info:
        resolve_grasp_cache(KEY, cache_dir=tmp_path, hub_repo_id="someone/repo")
    msg = str(info.value)
    assert f"local: {tmp_path / KEY.filename}: not found" in msg
    assert "hub: someone/repo/allegro_ball_grasp_1.0.npy: skipped, HF_HUB_OFFLINE" in msg
    assert "generate: disabled" in msg
    assert CMD in msg and "grasp_allow_generate" in msg and "allow_generate=True" in msg
    assert msg.index(CMD) > msg.index("generate: disabled")


def test_unreachable_hub_fails_fast(tmp_path, monkeypatch, caplog):
    import huggingface_hub.constants as hf_constants

    # huggingface_hub reads these env vars at import time: patch env and constants.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(hf_constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}")
    start = time.monotonic()
    with caplog.at_level(logging.INFO), pytest.raises(GraspCacheMissing) as info:
        resolve_grasp_cache(KEY, cache_dir=tmp_path, hub_repo_id="someone/repo", hub_timeout=2.0)
    assert time.monotonic() - start < 10
    assert "hub: someone/repo/allegro_ball_grasp_1.0.npy:" in str(info.value)
    assert "skipped" not in str(info.value)
    assert any("someone/repo" in r.getMessage() for r in caplog.records)


def test_hub_download_glue(tmp_path, monkeypatch):
    """The hub step downloads the sidecar and array with the documented arguments."""
    import huggingface_hub

    src = tmp_path / "remote"
    save_grasps(src / KEY.filename, make_grasps(), KEY, {})
    calls = []

    def fake_download(repo_id, filename, **kw):
        calls.append((repo_id, filename, kw))
        dest = Path(kw["local_dir"]) / filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((src / filename).read_bytes())
        return str(dest)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(resolver_mod, "_hub_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, **kw: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    cache = tmp_path / "cache"
    res = resolve_grasp_cache(KEY, cache_dir=cache, hub_repo_id="org/caches", hub_timeout=3.0)
    assert res.source == "hub" and res.path == cache / KEY.filename
    assert [c[1] for c in calls] == ["allegro_ball_grasp_1.0.json", "allegro_ball_grasp_1.0.npy"]
    for repo_id, _, kw in calls:
        assert repo_id == "org/caches" and kw["repo_type"] == "dataset"
        assert kw["local_dir"] == cache and kw["etag_timeout"] == 3.0
