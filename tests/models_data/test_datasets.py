"""Every data set kind on a tiny fixture written here, and the errors bad inputs get."""

import numpy as np
import pytest
from PIL import Image

from analysis_core.artifacts.errors import BarlowError
from analysis_core.datasets import FASHION_MNIST_CLASSES, ImageTransform, load_dataset

SMALL = ImageTransform(resize=16, crop=12, channels=3)


def write_image(path, value, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value, value)).save(path)


def test_shipped_fashion_mnist_test_split():
    data = load_dataset("fashion-mnist")
    assert len(data) == 10_000 and data.classes == FASHION_MNIST_CLASSES
    assert np.bincount(data.labels).tolist() == [1000] * 10
    image, label = data[0]
    assert image.shape == (1, 28, 28) and image.dtype.is_floating_point
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0 and float(image.max()) > 0.5
    assert label == 9 and data.filenames[0] == "test/00000.png"  # the first test image is an ankle boot


def test_fashion_mnist_training_split_missing_gives_advice(monkeypatch, tmp_path):
    import analysis_core.datasets.fashion_mnist as fm

    monkeypatch.setattr(fm, "search_dirs", lambda: [tmp_path])

    def no_network(split):
        raise BarlowError(f"Fashion-MNIST {split} split not found (looked in {tmp_path}) and download failed")

    monkeypatch.setattr(fm, "_download", no_network)
    with pytest.raises(BarlowError, match="train split not found"):
        load_dataset("fashion-mnist:train")


def test_truncated_idx_file_is_reported(monkeypatch, tmp_path):
    import gzip

    import analysis_core.datasets.fashion_mnist as fm

    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write((2051).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 100)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + b"\0" * 10)
    monkeypatch.setattr(fm, "search_dirs", lambda: [tmp_path])
    with pytest.raises(BarlowError, match="truncated"):
        load_dataset("fashion-mnist")


def test_image_folder(tmp_path):
    for cls, value in (("cat", 10), ("dog", 200)):
        for i in range(2):
            write_image(tmp_path / cls / f"{i}.png", value)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    data = load_dataset(f"imagefolder:{tmp_path}", SMALL)
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 1, 1]
    assert data.filenames == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    image, label = data[3]
    assert image.shape == (3, 12, 12) and label == 1
    assert abs(float(image.mean()) - 200 / 255) < 1e-6


def test_default_transform_is_resize_256_center_crop_224(tmp_path):
    write_image(tmp_path / "a" / "x.jpg", 50, size=(400, 300))
    image, _ = load_dataset(f"imagefolder:{tmp_path}")[0]
    assert image.shape == (3, 224, 224)


def test_image_folder_errors(tmp_path):
    with pytest.raises(BarlowError, match="folder not found"):
        load_dataset(f"imagefolder:{tmp_path / 'absent'}")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(BarlowError, match="no images"):
        load_dataset(f"imagefolder:{tmp_path}")
    write_image(tmp_path / "broken" / "b.png", 0)
    (tmp_path / "broken" / "b.png").write_bytes(b"garbage")
    data = load_dataset(f"imagefolder:{tmp_path}", SMALL)
    with pytest.raises(BarlowError, match="cannot decode image .*b.png"):
        data[0]


def write_barlow_csv(root, rows, header="Filenames,Predictions,Labels"):
    for name, _, _ in rows:
        if not name.startswith("missing"):
            write_image(root / "images" / name, 100)
    lines = [header] + [",".join(row) for row in rows]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")


def test_barlow_csv(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "cat", "cat"), ("b.png", "cat", "dog"), ("c.png", "dog", "dog")])
    data = load_dataset(f"barlow-csv:{tmp_path}", SMALL)
    assert data.classes == ["cat", "dog"]
    assert data.labels.tolist() == [0, 1, 1] and data.predictions.tolist() == [0, 0, 1]
    assert data.filenames == ["a.png", "b.png", "c.png"]
    assert data[1][0].shape == (3, 12, 12)
    # The CSV itself may be named, too.
    assert len(load_dataset(f"barlow-csv:{tmp_path / 'metadata.csv'}", SMALL)) == 3


def test_barlow_csv_class_order_from_classes_txt(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "zebra", "ant")])
    (tmp_path / "classes.txt").write_text("zebra\nant\nbee\n")
    data = load_dataset(f"barlow-csv:{tmp_path}", SMALL)
    assert data.classes == ["zebra", "ant", "bee"] and data.labels.tolist() == [1]


def test_barlow_csv_without_columns(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "cat", "cat")], header="Filenames,Prediction,Labels")
    with pytest.raises(BarlowError, match="lacks column.*Predictions"):
        load_dataset(f"barlow-csv:{tmp_path}", SMALL)


def test_barlow_csv_missing_image(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "cat", "cat"), ("missing.png", "cat", "cat")])
    with pytest.raises(BarlowError, match=r"row 3: image 'missing.png' not found"):
        load_dataset(f"barlow-csv:{tmp_path}", SMALL)


def test_barlow_csv_unknown_class_name(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "cat", "cat"), ("b.png", "kat", "cat")])
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    with pytest.raises(BarlowError, match=r"row 3: unknown class name 'kat' in Predictions"):
        load_dataset(f"barlow-csv:{tmp_path}", SMALL)


def test_barlow_csv_empty_cell(tmp_path):
    write_barlow_csv(tmp_path, [("a.png", "cat", "cat"), ("b.png", "cat", "")])
    with pytest.raises(BarlowError, match=r"row 3: empty Labels"):
        load_dataset(f"barlow-csv:{tmp_path}", SMALL)


def write_imagenet(root):
    wnids = ["n01440764", "n01443537", "n01484850"]
    (root / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark\n")
    for split in ("train", "val"):
        for wnid in wnids[1:]:  # a subset of the classes, as a sample of ImageNet would have
            write_image(root / split / wnid / f"{wnid}_1.JPEG", 30)
    return wnids


def test_imagenet_layout(tmp_path):
    wnids = write_imagenet(tmp_path)
    val = load_dataset(f"imagenet:{tmp_path}", SMALL)
    assert val.spec.endswith(str(tmp_path)) and val.wnids == wnids
    assert val.classes == ["tench", "goldfish", "great white shark"]
    # Class index = position of the WordNet id in the mapping, not among the folders present.
    assert val.labels.tolist() == [1, 2]
    assert val.filenames[0] == "n01443537/n01443537_1.JPEG"
    train = load_dataset(f"imagenet:{tmp_path}:train", SMALL)
    assert len(train) == 2 and train.labels.tolist() == [1, 2]


def test_imagenet_unknown_wnid_and_missing_split(tmp_path):
    write_imagenet(tmp_path)
    write_image(tmp_path / "val" / "n99999999" / "x.JPEG", 1)
    with pytest.raises(BarlowError, match="n99999999: unknown class"):
        load_dataset(f"imagenet:{tmp_path}:val", SMALL)
    with pytest.raises(BarlowError, match="ImageNet folder not found"):
        load_dataset(f"imagenet:{tmp_path / 'nothing'}:val", SMALL)
    (tmp_path / "only_train" / "train").mkdir(parents=True)
    with pytest.raises(BarlowError, match="split folder not found"):
        load_dataset(f"imagenet:{tmp_path / 'only_train'}:val", SMALL)


def test_unknown_dataset_spec():
    with pytest.raises(BarlowError, match="unknown data set"):
        load_dataset("cifar10")
    with pytest.raises(BarlowError, match="unknown data set kind"):
        load_dataset("tfds:mnist")
