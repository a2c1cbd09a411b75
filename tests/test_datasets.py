import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.config import NO_DATA, ScoringConfig
from tfnas.datasets import (
    DATASETS,
    Batch,
    dataset_spec,
    default_data_root,
    labelled_fingerprint,
    load_images,
    sample_batch,
)
from tfnas.proxies import IMAGES, LABELS, read_fingerprint


def load(dataset: str, path, split: str = "train"):
    return load_images(dataset_spec(dataset), path, split)


def batch_of(dataset: str, path, batch_size: int = 128, seed: int = 0, augment: bool = False):
    return sample_batch(dataset_spec(dataset), path, ScoringConfig(seed, batch_size, augment))


class Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), protocol 2: the
    byte-level form of the cPickle files CIFAR is distributed as (keys and numpy buffers)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def write_py2_pickle(file: Path, entry: dict) -> None:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump({k.encode(): v for k, v in entry.items()})
    file.write_bytes(buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


def write_bytes_keys_pickle(file: Path, entry: dict) -> None:
    """A Python 3 pickle with bytes keys (a file read with encoding='bytes', saved again)."""
    file.write_bytes(pickle.dumps({k.encode(): v for k, v in entry.items()}))


def write_str_keys_pickle(file: Path, entry: dict) -> None:
    """ImageNet16 (Chrabaszcz et al.) files: pickles with str keys."""
    file.write_bytes(pickle.dumps(entry))


def planar(x: np.ndarray) -> np.ndarray:
    """N×S×S×3 → N×(3·S·S): all red values row by row, then green, then blue (CIFAR layout)."""
    n, s = len(x), x.shape[1]
    out = np.empty((n, 3 * s * s), np.uint8)
    for c in range(3):
        out[:, c * s * s:(c + 1) * s * s] = x[..., c].reshape(n, s * s)
    return out


def random_images(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def make_cifar10(root: Path, per_batch: int = 4, writer=write_py2_pickle) -> np.ndarray:
    """Five training batches + test batch; returns the training images in file order."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    x = random_images(5 * per_batch, 32, seed=1)
    for i in range(5):
        part = x[i * per_batch:(i + 1) * per_batch]
        writer(folder / f"data_batch_{i + 1}", {
            "batch_label": f"training batch {i + 1} of 5".encode(),
            "data": planar(part), "labels": [(i * per_batch + j) % 10 for j in range(len(part))],
        })
    writer(folder / "test_batch", {"data": planar(random_images(3, 32, 2)), "labels": [7, 8, 9]})
    return x


# --- formats and pixel layout -------------------------------------------------------------

def test_cifar10_known_pixel_lands_at_row_col_channel(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = np.zeros((2, 3072), np.uint8)
    row, col = 5, 7  # 1024 red values (row-major), then 1024 green, then 1024 blue
    data[1, 0 * 1024 + row * 32 + col] = 200
    data[1, 1 * 1024 + row * 32 + col] = 100
    data[1, 2 * 1024 + row * 32 + col] = 50
    for i in range(1, 6):
        write_py2_pickle(folder / f"data_batch_{i}", {"data": data, "labels": [3, 4]})
    x, y = load("cifar10", tmp_path)
    assert x.shape == (10, 32, 32, 3) and x.dtype == np.uint8
    assert x[1, row, col].tolist() == [200, 100, 50]
    assert x[1, col, row].tolist() == [0, 0, 0]
    assert int(x.sum()) == 5 * 350
    assert y.dtype == np.int64 and y.tolist() == [3, 4] * 5


@pytest.mark.parametrize("writer", [write_py2_pickle, write_bytes_keys_pickle])
def test_cifar10_train_and_test_splits_round_trip(tmp_path, writer):
    x = make_cifar10(tmp_path, writer=writer)
    got_x, got_y = load("cifar10", tmp_path, "train")
    np.testing.assert_array_equal(got_x, x)
    assert got_y.tolist() == [i % 10 for i in range(20)]
    test_x, test_y = load("cifar10", tmp_path, "test")
    np.testing.assert_array_equal(test_x, random_images(3, 32, 2))
    assert test_y.tolist() == [7, 8, 9]


def test_dataset_subfolder_itself_is_accepted(tmp_path):
    x = make_cifar10(tmp_path)
    np.testing.assert_array_equal(load("cifar10", tmp_path / "cifar-10-batches-py")[0], x)


def test_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x = random_images(6, 32, seed=3)
    write_py2_pickle(folder / "train", {"data": planar(x), "fine_labels": [99, 0, 42, 5, 6, 7],
                                        "coarse_labels": [19, 0, 1, 2, 3, 4]})
    got_x, got_y = load("cifar100", tmp_path)
    np.testing.assert_array_equal(got_x, x)
    assert got_y.tolist() == [99, 0, 42, 5, 6, 7]


def make_imagenet16(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Ten train files with 1-based labels incl. classes outside 1..120; pixel value = label % 256
    so every kept image can be matched to its label."""
    folder = root / "ImageNet16"
    folder.mkdir(parents=True)
    all_labels = []
    for i in range(1, 11):
        labels = [1, 120, 121, 1000, 60 + i]
        all_labels += labels
        x = np.stack([np.full((16, 16, 3), lab % 256, np.uint8) for lab in labels])
        write_str_keys_pickle(folder / f"train_data_batch_{i}", {
            "data": planar(x), "labels": labels, "mean": np.zeros(768)})
    val = np.stack([np.full((16, 16, 3), v, np.uint8) for v in (1, 2, 3)])
    write_str_keys_pickle(folder / "val_data", {"data": planar(val), "labels": [2, 500, 120]})
    return np.array(all_labels), val


def test_imagenet16_120_keeps_labels_1_to_120_zero_based(tmp_path):
    make_imagenet16(tmp_path)
    x, y = load("ImageNet16-120", tmp_path)
    assert x.shape == (30, 16, 16, 3)
    assert y.tolist() == [v for i in range(1, 11) for v in (0, 119, 59 + i)]
    np.testing.assert_array_equal(x[:, 3, 11, 2], (y + 1) % 256)  # images stay with their labels
    val_x, val_y = load("ImageNet16-120", tmp_path / "ImageNet16", split="test")
    assert val_y.tolist() == [1, 119] and val_x[:, 0, 0, 0].tolist() == [1, 3]


# --- the proxy batch ------------------------------------------------------------------------

def save_npz(file: Path, x: np.ndarray) -> Path:
    np.savez(file, x=x, y=np.arange(len(x), dtype=np.int64))
    return file


def test_normalisation_uses_nats_bench_mean_and_std(tmp_path):
    cifar = save_npz(tmp_path / "c.npz", np.tile(np.array([255, 0, 128], np.uint8), (4, 32, 32, 1)))
    images = batch_of("cifar10", cifar, batch_size=2).images
    assert images.dtype == torch.float32 and images.shape == (2, 3, 32, 32)
    # (v − mean) / std with CIFAR-10's (125.3, 123.0, 113.9) / (63.0, 62.1, 66.7)
    for c, expected in enumerate([2.0587302, -1.9806763, 0.2113943]):
        assert images[:, c].flatten().tolist() == pytest.approx([expected] * 2048, rel=1e-5)
    c100 = batch_of("cifar100", cifar, batch_size=1).images
    assert c100[0, :, 0, 0].tolist() == pytest.approx([1.8431085, -1.8975535, 0.2215909], rel=1e-5)
    imnet = save_npz(tmp_path / "i.npz", np.tile(np.array([255, 0, 128], np.uint8), (3, 16, 16, 1)))
    i16 = batch_of("ImageNet16-120", imnet, batch_size=1).images
    assert i16.shape == (1, 3, 16, 16)
    assert i16[0, :, 0, 0].tolist() == pytest.approx([2.0930085, -1.9043422, 0.3685666], rel=1e-5)


def test_batch_is_seeded_choice_without_replacement(tmp_path):
    x = make_cifar10(tmp_path, per_batch=4)  # 20 images
    batch = batch_of("cifar10", tmp_path, batch_size=8, seed=3)
    assert isinstance(batch, Batch)
    index = np.random.default_rng(3).choice(20, size=8, replace=False)
    # exactly the images default_rng(seed).choice(N, B, replace=False) picks, in that order
    whole = torch.from_numpy(x[index]).permute(0, 3, 1, 2).float()
    mean = torch.tensor([125.3, 123.0, 113.9]).view(1, 3, 1, 1)
    std = torch.tensor([63.0, 62.1, 66.7]).view(1, 3, 1, 1)
    torch.testing.assert_close(batch.images, (whole - mean) / std, rtol=1e-5, atol=1e-5)
    full = batch_of("cifar10", tmp_path, batch_size=20, seed=0).images  # every image once
    assert len({tuple(img.flatten().tolist()) for img in full}) == 20


def test_same_seed_same_batch_other_seed_other_batch(tmp_path):
    make_cifar10(tmp_path)
    a = batch_of("cifar10", tmp_path, batch_size=8, seed=0)
    b = batch_of("cifar10", tmp_path, batch_size=8, seed=0)
    c = batch_of("cifar10", tmp_path, batch_size=8, seed=1)
    assert torch.equal(a.images, b.images) and a.fingerprint == b.fingerprint
    assert not torch.equal(a.images, c.images) and a.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0


def test_fingerprint_depends_on_images_and_augment_flag_not_on_file(tmp_path):
    x = make_cifar10(tmp_path)
    from_pickles = batch_of("cifar10", tmp_path, batch_size=20, seed=5)
    from_npz = batch_of("cifar10", save_npz(tmp_path / "x.npz", x), batch_size=20, seed=5)
    augmented = batch_of("cifar10", tmp_path, batch_size=20, seed=5, augment=True)
    assert from_pickles.fingerprint == from_npz.fingerprint
    assert augmented.fingerprint != from_pickles.fingerprint


@settings(max_examples=60, deadline=None)
@given(labels=st.lists(st.integers(-1, 119), min_size=1, max_size=64), data=st.data())
def test_a_score_is_keyed_by_exactly_what_its_proxy_read(labels, data):
    """Data-free: 'none'; images: the images' fingerprint; labels too: a fingerprint that
    changes with any one label and with the images, whatever the labels' integer dtype."""
    labels = np.array(labels)
    images = "0123456789abcdef"
    assert read_fingerprint(frozenset(), images, labels) == NO_DATA
    assert read_fingerprint(frozenset(), None, None) == NO_DATA
    assert read_fingerprint({IMAGES}, images, labels) == images
    both = read_fingerprint({IMAGES, LABELS}, images, labels)
    assert both == labelled_fingerprint(images, labels.astype(np.int16))
    assert len(both) == 16 and both not in (images, NO_DATA)
    changed = labels.copy()
    at = data.draw(st.integers(0, len(labels) - 1))
    changed[at] = data.draw(st.integers(-1, 119).filter(lambda v: v != labels[at]))
    assert read_fingerprint({IMAGES, LABELS}, images, changed) != both
    assert read_fingerprint({IMAGES, LABELS}, images[::-1], labels) != both
    with pytest.raises(ValueError, match="reads images, but the run has no image batch"):
        read_fingerprint({IMAGES}, None, None)


def unnormalise(images: torch.Tensor, dataset: str) -> np.ndarray:
    spec = dataset_spec(dataset)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (images * std + mean).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("dataset, size, padding", [("cifar10", 32, 4), ("ImageNet16-120", 16, 2)])
def test_augmentation_is_a_seeded_flip_and_padded_crop(tmp_path, dataset, size, padding):
    x = random_images(16, size, seed=7)
    data = save_npz(tmp_path / "x.npz", x)
    plain = batch_of(dataset, data, batch_size=16, seed=2)
    aug = batch_of(dataset, data, batch_size=16, seed=2, augment=True)
    assert aug.images.shape == plain.images.shape == (16, 3, size, size)
    assert not torch.equal(aug.images, plain.images)
    assert torch.equal(aug.images, batch_of(dataset, data, 16, seed=2, augment=True).images)
    originals, augmented = unnormalise(plain.images, dataset), unnormalise(aug.images, dataset)
    seen = set()
    for original, result in zip(originals, augmented, strict=True):
        matches = []
        for flip in (False, True):
            img = original[:, ::-1] if flip else original
            padded = np.pad(img, ((padding, padding), (padding, padding), (0, 0)))
            for top in range(2 * padding + 1):
                for left in range(2 * padding + 1):
                    if np.array_equal(padded[top:top + size, left:left + size], result):
                        matches.append((flip, top - padding, left - padding))
        assert len(matches) == 1, "augmented image is not one flip+crop of its original"
        seen.add(matches[0])
    assert {flip for flip, _, _ in seen} == {False, True}
    assert any(dy != 0 or dx != 0 for _, dy, dx in seen)


# --- errors ---------------------------------------------------------------------------------

def one_line_error(exc_type, fn, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_dataset_lists_valid_names(tmp_path):
    msg = one_line_error(ValueError, dataset_spec, "cifar-10")
    assert "'cifar-10'" in msg and "cifar10, cifar100, ImageNet16-120" in msg
    one_line_error(ValueError, batch_of, "imagenet", tmp_path)
    assert set(DATASETS) == {"cifar10", "cifar100", "ImageNet16-120"}


def test_missing_folder_and_missing_files_name_expected_files_and_source(tmp_path):
    # CIFAR is downloaded into a root that lacks it: with no network, one line naming the URL
    # (the suite's mirror points at a dead local port) and the manual alternative
    msg = one_line_error(OSError, load, "cifar10", tmp_path / "nowhere")
    assert "cannot reach http://127.0.0.1:9/cifar-10-python.tar.gz" in msg
    assert "nowhere/cifar-10-batches-py by hand" in msg and ".npz" in msg
    assert not (tmp_path / "nowhere" / "cifar-10-batches-py").exists()
    # ImageNet16-120 cannot be downloaded: where to get it
    msg = one_line_error(FileNotFoundError, load, "ImageNet16-120", tmp_path)
    assert "no ImageNet16/ in" in msg and "cannot be downloaded automatically" in msg
    assert "image-net.org" in msg
    folder = tmp_path / "ImageNet16"
    folder.mkdir()
    msg = one_line_error(FileNotFoundError, load, "ImageNet16-120", tmp_path)
    assert "train_data_batch_1" in msg and "train_data_batch_10" in msg
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    msg = one_line_error(FileNotFoundError, load, "cifar10", tmp_path)
    assert "missing data_batch_3 in" in msg and "cs.toronto.edu/~kriz/cifar.html" in msg
    load("cifar10", tmp_path, "test")  # the test split is still complete


def test_truncated_or_foreign_pickle_is_reported_as_corrupt(tmp_path):
    make_cifar10(tmp_path)
    file = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    file.write_bytes(file.read_bytes()[:500])
    msg = one_line_error(ValueError, load, "cifar10", tmp_path)
    assert "data_batch_2 is corrupt" in msg and "cs.toronto.edu" in msg
    write_py2_pickle(file, {"data": planar(random_images(2, 32, 0))})  # no labels
    msg = one_line_error(ValueError, load, "cifar10", tmp_path)
    assert "data_batch_2 is corrupt" in msg and "'labels'" in msg


def test_wrong_image_shapes_are_rejected(tmp_path):
    small = save_npz(tmp_path / "small.npz", random_images(4, 16, 0))
    msg = one_line_error(ValueError, load, "cifar10", small)
    assert "N×32×32×3" in msg and "4×16×16×3" in msg
    msg = one_line_error(ValueError, batch_of, "ImageNet16-120",
                         save_npz(tmp_path / "big.npz", random_images(4, 32, 0)), 2)
    assert "N×16×16×3" in msg
    floats = tmp_path / "floats.npz"
    np.savez(floats, x=np.zeros((2, 32, 32, 3), np.float32), y=np.zeros(2, np.int64))
    assert "float32" in one_line_error(ValueError, load, "cifar10", floats)
    folder = tmp_path / "root" / "cifar-100-python"
    folder.mkdir(parents=True)
    write_py2_pickle(folder / "train", {"data": planar(random_images(2, 16, 0)),
                                        "fine_labels": [1, 2]})
    msg = one_line_error(ValueError, load, "cifar100", tmp_path / "root")
    assert "3072 values" in msg and "2×768" in msg


def test_batch_larger_than_the_data_says_how_many_images_there_are(tmp_path):
    data = save_npz(tmp_path / "x.npz", random_images(10, 32, 0))
    msg = one_line_error(ValueError, batch_of, "cifar10", data, batch_size=11)
    assert "--batch-size 11 is larger" in msg and "10 cifar10 training images" in msg
    assert len(batch_of("cifar10", data, batch_size=10).images) == 10
    one_line_error(ValueError, batch_of, "cifar10", data, batch_size=0)


def test_unknown_split_and_bad_npz(tmp_path):
    make_cifar10(tmp_path)
    assert "train, test" in one_line_error(ValueError, load, "cifar10", tmp_path, "valid")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a readable .npz" in one_line_error(ValueError, load, "cifar10", bad)
    no_x = tmp_path / "no_x.npz"
    np.savez(no_x, images=random_images(2, 32, 0))
    assert "'x'" in one_line_error(ValueError, load, "cifar10", no_x)


def test_default_data_root_follows_torch_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert default_data_root() == tmp_path / "cifar.python"
    monkeypatch.delenv("TORCH_HOME")
    assert default_data_root() == Path.home() / ".torch" / "cifar.python"


# --- real samples ---------------------------------------------------------------------------

def test_real_cifar10_sample_batch_matches_dataset_statistics(shared_data):
    sample = shared_data / "images" / "cifar10_sample.npz"
    x, y = load("cifar10", sample)
    assert x.shape == (4000, 32, 32, 3) and set(y.tolist()) == set(range(10))
    batch = batch_of("cifar10", sample, batch_size=1000, seed=0)
    pixel_mean = (batch.images.mean(dim=(0, 2, 3)) * torch.tensor([63.0, 62.1, 66.7])
                  + torch.tensor([125.3, 123.0, 113.9]))
    assert pixel_mean.tolist() == pytest.approx([125.3, 123.0, 113.9], abs=4.0)
    assert batch.images.std(dim=(0, 2, 3)).tolist() == pytest.approx([1.0, 1.0, 1.0], abs=0.1)


def test_real_imagenet16_sample_keeps_all_images(shared_data):
    sample = shared_data / "images" / "imagenet16_sample.npz"
    x, y = load("ImageNet16-120", sample)
    assert x.shape == (1000, 16, 16, 3)
    assert (y == -1).sum() == 880 and sorted(y[y >= 0].tolist()) == list(range(120))
    assert batch_of("ImageNet16-120", sample, batch_size=128).images.shape == (128, 3, 16, 16)


# --- trusted files and labels -------------------------------------------------------------

class _Payload:
    """Unpickles by calling os.system: what a hostile 'dataset file' would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_pickle_carrying_code_is_refused_before_it_runs(tmp_path):
    """Was: a CIFAR pickle with an os.system payload ran before the format check failed."""
    make_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    hostile = tmp_path / "cifar-10-batches-py" / "data_batch_4"
    hostile.write_bytes(pickle.dumps({"data": _Payload(marker), "labels": [0]}))
    msg = one_line_error(ValueError, load, "cifar10", tmp_path)
    assert not marker.exists()
    assert "data_batch_4 is corrupt or not in the official format" in msg
    assert "refused to load global posix.system" in msg


def test_the_batch_carries_the_images_labels(tmp_path):
    x = make_cifar10(tmp_path)
    labels = np.array([i % 10 for i in range(len(x))])
    batch = batch_of("cifar10", tmp_path, batch_size=8, seed=3)
    chosen = np.random.default_rng(3).choice(len(x), 8, replace=False)
    assert batch.labels.dtype == torch.int64
    np.testing.assert_array_equal(batch.labels.numpy(), labels[chosen])
    from tfnas.datasets import check_labels

    check_labels(dataset_spec("cifar10"), batch.labels, ["snip"])
    unlabelled = batch.labels.clone()
    unlabelled[:3] = -1
    msg = one_line_error(ValueError, check_labels, dataset_spec("cifar10"), unlabelled,
                         ["snip", "grasp"])
    assert msg.startswith("3 of the 8 images in the batch have no cifar10 label")
    assert "proxies snip, grasp" in msg

