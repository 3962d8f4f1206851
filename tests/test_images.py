"""Images (--image): conversion to data URLs, request shapes over real HTTP, refusals by
text-only backends before sending, hashes (never bytes) in records, thumbnails."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib

import httpx
import pytest

import gemma_magics as gm
from gemma_magics import errors
from gemma_magics.config import Config
from gemma_magics.features.images import fingerprint, to_data_url, to_data_urls
from gemma_magics.session import Session

pytest_plugins = ["conftest_providers"]

from emulated import ACCOUNT, CANARIES, PREFIXES, last_body  # noqa: E402


def tiny_png(rgb: tuple[int, int, int] = (200, 30, 30), size: int = 4) -> bytes:
    """A real PNG, built by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


PNG = tiny_png()
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_every_kind_of_image_becomes_a_data_url(tmp_path):
    path = tmp_path / "red.png"
    path.write_bytes(PNG)
    response = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    assert to_data_urls([str(path), path, PNG, bytearray(PNG), PNG_URL, response]) == [PNG_URL] * 6
    from IPython.display import Image

    assert to_data_url(Image(data=PNG, format="png")) == PNG_URL
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 16
    assert to_data_url(jpeg).startswith("data:image/jpeg;base64,")


def test_pil_images():
    pil = pytest.importorskip("PIL.Image")
    url = to_data_url(pil.new("RGB", (3, 3), (0, 0, 255)))
    mime, _, _ = url.partition(";")
    assert mime == "data:image/png" and fingerprint(url)["bytes"] > 0


def test_bad_images_are_refused_with_the_fix(tmp_path):
    with pytest.raises(errors.ValidationError, match=r"web address.*img = httpx.get\(url\)"):
        to_data_url("https://example.com/cat.png")
    with pytest.raises(errors.ValidationError, match="not a PNG, JPEG, GIF or WebP"):
        to_data_url(b"plain text")
    with pytest.raises(errors.ValidationError, match="no image file or notebook variable"):
        to_data_url(str(tmp_path / "missing.png"))
    with pytest.raises(errors.ValidationError, match="not valid base64"):
        to_data_url("data:image/png;base64,@@@")
    with pytest.raises(errors.ValidationError, match="cannot use a int as an image"):
        to_data_url(42)


def test_images_travel_as_data_url_parts(hosted, emu):
    gm.generate("What colour?", "cloudflare", session=hosted, images=[PNG, PNG_URL],
                system="One word.")
    assert last_body(emu)["messages"] == [
        {"role": "system", "content": "One word."},
        {"role": "user", "content": [
            {"type": "text", "text": "What colour?"},
            {"type": "image_url", "image_url": {"url": PNG_URL}},
            {"type": "image_url", "image_url": {"url": PNG_URL}}]}]
    gm.generate("What colour?", "openrouter", session=hosted, images=PNG)
    parts = last_body(emu)["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": PNG_URL}}


def test_records_keep_a_hash_not_the_bytes(emu, monkeypatch, tmp_path):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    db = tmp_path / "history.sqlite"
    session = Session(config=Config(), db_path=db)
    completion = gm.generate("What colour?", "cloudflare", session=session, images=[PNG])
    extra = json.loads(completion.record.extra)
    assert extra["images"] == [{"mime": "image/png", "bytes": len(PNG),
                                "sha256": hashlib.sha256(PNG).hexdigest()}]
    session.log.close()
    payload = PNG_URL.split(",", 1)[1].encode()
    assert payload not in db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or payload not in wal.read_bytes()


@pytest.mark.parametrize(("provider", "model"), [
    ("local", None), ("cloudflare", "@cf/google/gemma-7b-it-lora"), ("dataoorts", None)])
def test_text_only_backends_refuse_before_sending(hosted, emu, provider, model):
    with pytest.raises(errors.CapabilityError) as info:
        gm.generate("What colour?", provider, model, session=hosted, images=[PNG])
    text = str(info.value)
    assert "is text-only: it does not accept images (images work on: cloudflare -m " \
           "@cf/google/gemma-4-26b-a4b-it, cloudflare-openai, aimlapi -m google/gemma-4-31b-it, " \
           "openai, openrouter, ollama -m gemma4:e4b" in text
    assert emu.requests == [] and len(hosted.log) == 0


def test_the_emulator_checks_image_parts(emu):
    headers = {"Authorization": "Bearer k"}

    def post(url, model=None, image="data:image/png;base64,@@"):
        msg = {"role": "user", "content": [{"type": "text", "text": "x"},
                                           {"type": "image_url", "image_url": {"url": image}}]}
        body = {"messages": [msg], **({"model": model} if model else {})}
        return httpx.post(url, json=body, headers=headers)

    cf = emu.cloudflare_url()
    r = post(cf)
    assert r.status_code == 400 and "not valid base64" in r.text
    r = post(cf, image="data:text/plain;base64,aGk=")
    assert r.status_code == 400 and "unsupported image type" in r.text
    assert post(cf, image=PNG_URL).status_code == 200
    r = post(emu.openai_base_url + "/chat/completions", "m")
    assert r.status_code == 400 and "not valid base64" in r.text
    assert post(emu.openai_base_url + "/chat/completions", "m", PNG_URL).status_code == 200


def test_magic_takes_paths_and_variables_and_shows_captions(ip, emu, monkeypatch, tmp_path,
                                                            capsys):
    from emulated import point_at

    point_at(emu, monkeypatch, tmp_path)
    (tmp_path / "red.png").write_bytes(PNG)
    ip.user_ns["blue"] = tiny_png((0, 0, 255))
    ip.run_cell("%%gemma -p cloudflare --image red.png --image blue\nCompare the colours.")
    out = capsys.readouterr().out
    captions = [line for line in out.splitlines() if line.startswith("[image ")]
    assert captions[0].startswith(f"[image 1: image/png, {len(PNG) / 1024:.1f} KB, sha256 "
                                  f"{hashlib.sha256(PNG).hexdigest()[:12]}")
    assert len(captions) == 2 and out.index("[image 2") < out.index("Gemma is a family")
    parts = last_body(emu)["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    ip.run_cell("%%gemma --image red.png\nWhat colour?")
    err = capsys.readouterr().err
    assert "UsageError: local gemma-3-270m is text-only" in err and "Traceback" not in err


@pytest.mark.slow
def test_thumbnails_above_the_answer_in_a_kernel(emulator, tmp_path):
    pytest.importorskip("ipykernel")
    from kernel_client import Kernel

    emulator.reset()
    env = {f"GEMMA_MAGICS_{p.upper().replace('-', '_')}_BASE_URL": emulator.base_url + prefix
           for p, prefix in PREFIXES.items()}
    env.update(CANARIES, CLOUDFLARE_ACCOUNT_ID=ACCOUNT, GEMMA_MAGICS_DB=":memory:",
               GEMMA_MAGICS_CONFIG=str(tmp_path / "c.toml"))
    (tmp_path / "red.png").write_bytes(PNG)
    kernel = Kernel(env=env)
    try:
        kernel.run(f"%load_ext gemma_magics\nimport os; os.chdir({str(tmp_path)!r})")
        run = kernel.run("%%gemma -p cloudflare --image red.png\nWhat colour?")
        shown = run.of_type("display_data")
        first = shown[0]["content"]["data"]
        assert f'<img src="{PNG_URL}"' in first["text/html"], "thumbnails come first"
        assert any("Gemma is a family" in m["content"]["data"].get("text/plain", "")
                   for m in run.of_type("display_data", "update_display_data"))
    finally:
        kernel.close()
