import numpy as np
import pytest

from dtmask.geometry import (ResizeLongestSide, bilinear, bilinear_axis, bilinear_points, display_size,
                             display_to_file, file_to_display, orient_array, relative_to_pixels, unorient_array)


@pytest.mark.parametrize("w,h,expected", [(6000, 4000, (1024, 683)), (4000, 6000, (683, 1024)),
                                          (1024, 1024, (1024, 1024)), (333, 777, (439, 1024)), (1, 1, (1024, 1024))])
def test_longest_side_resize(w, h, expected):
    t = ResizeLongestSide(w, h)
    assert t.resized_size == expected
    assert max(t.resized_size) == 1024


def test_model_frame_round_trip():
    t = ResizeLongestSide(6000, 4000)
    pts = np.array([[0, 0], [5999, 3999], [2400.5, 1600.25]])
    back = t.from_model(t.to_model(pts))
    np.testing.assert_allclose(back, pts)
    # the far corner of the image lands at the far edge of the resized area, not beyond
    assert t.to_model([[6000, 4000]])[0] == pytest.approx([1024, 683])


def test_relative_coordinates():
    px = relative_to_pixels([[0, 0], [0.5, 0.25], [1, 1]], 6000, 4000)
    assert px[0] == pytest.approx([0, 0])
    assert px[1] == pytest.approx([3000, 1000])
    assert (px[2] < [6000, 4000]).all() and (px[2] > [5999.9, 3999.9]).all()


def test_bilinear_axis_matches_align_corners_false():
    # 2 source cells onto 4 pixels: centres at -0.25, 0.25, 0.75, 1.25 -> clamped
    i0, i1, f = bilinear_axis(2, 4, 0.5)
    assert list(i0) == [0, 0, 0, 1]
    assert list(i1) == [1, 1, 1, 1]
    np.testing.assert_allclose(f, [0, 0.25, 0.75, 0])


def test_bilinear_at_points_is_the_separable_bilinear():
    rng = np.random.default_rng(5)
    for shape in [(7, 9), (7, 9, 4), (1, 5, 2)]:
        values = rng.random(shape).astype(np.float32)
        ys, xs = rng.uniform(-1, shape[0], 12), rng.uniform(-1, shape[1], 12)
        grid = bilinear(values, ys, xs)
        np.testing.assert_allclose(bilinear_points(values, ys, xs), grid[np.arange(12), np.arange(12)], atol=1e-6)


@pytest.mark.parametrize("n", range(1, 9))
def test_orientation_maps_every_pixel(n):
    w, h = 7, 4
    a = np.arange(w * h).reshape(h, w)
    d = orient_array(a, n)
    assert (d.shape[1], d.shape[0]) == display_size(w, h, n)
    for v in range(d.shape[0]):
        for u in range(d.shape[1]):
            x, y = display_to_file(u, v, n, w, h)
            assert d[v, u] == a[y, x]
            assert file_to_display(x, y, n, w, h) == (u, v)
    assert np.array_equal(unorient_array(d, n), a)


def test_orientation_names():
    a = np.array([[1, 2], [3, 4]])
    assert orient_array(a, 6).tolist() == [[3, 1], [4, 2]]  # rotated 90 clockwise
    assert orient_array(a, 8).tolist() == [[2, 4], [1, 3]]  # rotated 90 counter-clockwise
    assert orient_array(a, 3).tolist() == [[4, 3], [2, 1]]
    with pytest.raises(ValueError):
        orient_array(a, 9)
