"""dmdt: exact agreement with a plain per-curve histogram2d, presets, normalisation, streaming, real data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pix2pixai.data import dmdt_images as dmdt_module
from pix2pixai.data.dmdt_images import (
    DMDT_PRESETS,
    DmdtPreset,
    augment_lightcurves,
    augment_noise,
    dmdt,
    dmdt_from_lightcurves,
    dmdt_multiband,
    iter_dmdt_chunks,
)
from pix2pixai.data.lightcurves import LightCurve, read_lightcurves_npz
from pix2pixai.errors import InputError
from tests.conftest import shared_path

CRTS_DM, CRTS_DT = DMDT_PRESETS["crts"]


def reference_counts(t: np.ndarray, m: np.ndarray, dm_edges=CRTS_DM, dt_edges=CRTS_DT) -> np.ndarray:
    """The recipe written plainly: sort by (t, m), all pairs i < j, numpy histogram2d."""
    order = np.lexsort((m, t))
    t, m = np.asarray(t, np.float64)[order], np.asarray(m, np.float64)[order]
    i, j = np.triu_indices(t.size, 1)
    counts, _, _ = np.histogram2d(m[j] - m[i], t[j] - t[i], bins=[dm_edges, dt_edges])
    return counts


def reference_crts(t: np.ndarray, m: np.ndarray) -> np.ndarray:
    return 255.0 * reference_counts(t, m) / (t.size * (t.size - 1) / 2)


def random_curve(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = 53000 + np.cumsum(rng.exponential(rng.choice([0.005, 3.0, 40.0]), n))
    return t, 15 + rng.normal(0, rng.choice([0.05, 0.5, 3.0]), n)


def test_stable_entry_point_is_the_function_whatever_the_import_order():
    """Issue #2's entry point ``pix2pixai.data.dmdt(mjd, mag, preset="crts")``, also after every data
    submodule has been imported (a submodule named ``dmdt`` once replaced the function)."""
    import importlib
    import pkgutil

    import pix2pixai.data

    for info in pkgutil.walk_packages(pix2pixai.data.__path__, "pix2pixai.data."):
        importlib.import_module(info.name)
    t = np.array([0.0, 1.0, 3.0, 10.0])
    m = np.array([15.0, 15.2, 14.9, 15.1])
    np.testing.assert_array_equal(pix2pixai.data.dmdt(t, m, preset="crts"), dmdt(t, m, preset="crts"))
    assert pix2pixai.data.dmdt(t, m, preset="crts").shape == (22, 24)


def test_unpacks_to_edges_and_has_published_shapes():
    dm, dt = DMDT_PRESETS["crts"]
    assert DMDT_PRESETS["crts"].shape == (22, 24) and dm.size == 23 and dt.size == 25
    assert DMDT_PRESETS["scope"].shape == (26, 26)
    assert dt[4] == 4 / 145 and dm.dtype == np.float64


@pytest.fixture(params=["compiled", "numpy"])
def kernel(request, monkeypatch):
    """Run a test on the numba kernel and on the pure-numpy fallback (both must equal histogram2d)."""
    if request.param == "compiled" and not dmdt_module.compiled_kernel_available():
        pytest.skip("numba not importable: only the numpy path exists here")
    monkeypatch.setattr(dmdt_module, "_use_compiled", lambda: request.param == "compiled")
    return request.param


def test_random_curves_of_mixed_lengths_match_histogram2d(kernel):
    rng = np.random.default_rng(0)
    curves = [random_curve(rng, int(n)) for n in rng.integers(2, 160, 40)]
    images = dmdt([t for t, _ in curves], [m for _, m in curves])
    expected = np.stack([reference_crts(t, m) for t, m in curves])
    assert images.shape == (40, 22, 24) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected, rtol=1e-6, atol=1e-6)


def adversarial_curve() -> tuple[np.ndarray, np.ndarray]:
    """Pairs with dt = 0, dt and dm exactly on every edge, on the last edges, just beside them, out of range."""
    t_values = [0.0, 0.0, 0.0]
    m_values = [0.0, 0.0, 0.1]
    for e in CRTS_DT:
        t_values += [1e4, 1e4 + e, 1e4 + np.nextafter(e, np.inf)]
        m_values += [0.0, 0.0, 0.0]
    for e in CRTS_DM:
        t_values += [2e4, 2e4 + 1.0]
        m_values += [0.0, e]
    t_values += [3e4, 3e4 + 4000.0, 3e4 + 4000.5, 3e4 + 4000.5]
    m_values += [0.0, 8.0, 8.0 + 1e-9, -8.5]
    return np.array(t_values), np.array(m_values)


def test_adversarial_values_match_histogram2d(kernel):
    t, m = adversarial_curve()
    np.testing.assert_allclose(dmdt(t, m), reference_crts(t, m), rtol=1e-6, atol=1e-7)
    # the on-edge pairs really are there: pair (0, 4000) sits in the closed last dt bin
    assert reference_counts(np.array([0.0, 4000.0]), np.array([0.0, 8.0]))[-1, -1] == 1
    assert dmdt(np.array([0.0, 4000.0]), np.array([0.0, 8.0]))[-1, -1] == 255.0


_edge_values = st.sampled_from([*CRTS_DT, *(-CRTS_DM), *CRTS_DM, 4000.0, 8.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.one_of(_edge_values, st.floats(-10, 5000, allow_nan=False)), min_size=2, max_size=40),
    mags=st.lists(st.one_of(_edge_values, st.floats(-12, 12, allow_nan=False)), min_size=40, max_size=40),
)
def test_property_equals_histogram2d(times, mags):
    t = np.array(times)
    m = np.array(mags[: t.size])
    np.testing.assert_allclose(dmdt(t, m), reference_crts(t, m), rtol=1e-6, atol=1e-6)


_custom_edges = st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=9, unique=True).map(sorted)


@settings(max_examples=60, deadline=None)
@given(dm_edges=_custom_edges, dt_edges=_custom_edges, data=st.data())
def test_property_equals_histogram2d_for_custom_edges(dm_edges, dt_edges, data):
    # values drawn on, beside and between arbitrary edges (narrow spans, negative dt edges, wide ranges)
    def values(edges):
        near_edge = st.sampled_from(edges).map(lambda e: e + data.draw(st.sampled_from([0.0, 1e-12, -1e-12])))
        return st.lists(st.one_of(near_edge, st.floats(-60, 60, allow_nan=False)), min_size=12, max_size=12)

    # a point at (0, 0): its pairs have dt = t_j and dm = +-m_j, so drawn edge values land on edges
    t = np.array([0.0, *data.draw(values(dt_edges))])
    m = np.array([0.0, *data.draw(values(dm_edges))])
    expected = reference_counts(t, m, dm_edges, dt_edges)
    counts = dmdt_module.dmdt_counts([t], [m], DmdtPreset("custom", dm_edges, dt_edges))[0]
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("dt_edges", [[0.0, 2.2250738585e-313], [-1e308, 0.0, 1e308], [0.0, 5e-324, 1.0],
                                      [-50.0, -49.99999999999999], [1e6, 1e6 + 1e-6, 1e6 + 2e-6]])
def test_edges_too_narrow_or_wide_for_a_lookup_table_still_match_histogram2d(kernel, dt_edges):
    # found by hypothesis: a subnormal span, or one of a few ulps of its edges, has no float64 table;
    # every value then takes the binary search
    t = np.array([0.0, 0.0, 5e-324, 2.2250738585e-313, 1.0, 1e6 + 1e-6, 1e300])
    m = np.array([0.0, 0.5, 0.2, 0.9, 0.1, 0.3, 0.4])
    preset = DmdtPreset("custom", [0.0, 0.5, 1.0], dt_edges)
    expected = reference_counts(t, m, preset.dm_edges, preset.dt_edges)
    np.testing.assert_array_equal(dmdt_module.dmdt_counts([t], [m], preset)[0], expected)


def test_many_blocks_and_flushes_give_the_same_counts(monkeypatch):
    rng = np.random.default_rng(1)
    curves = [random_curve(rng, int(n)) for n in rng.integers(2, 60, 25)]
    expected = dmdt([t for t, _ in curves], [m for _, m in curves])
    monkeypatch.setattr(dmdt_module, "_use_compiled", lambda: False)
    monkeypatch.setattr(dmdt_module, "_SLAB_ELEMENTS", 7)
    monkeypatch.setattr(dmdt_module, "_FLUSH_ELEMENTS", 5)
    np.testing.assert_array_equal(dmdt([t for t, _ in curves], [m for _, m in curves]), expected)


@settings(max_examples=40, deadline=None)
@given(dm_edges=_custom_edges, dt_edges=_custom_edges, data=st.data())
def test_property_compiled_kernel_equals_numpy_path(dm_edges, dt_edges, data):
    # both paths on the same curves (edge values, dt = 0, out of range, several curves of mixed length)
    if not dmdt_module.compiled_kernel_available():
        pytest.skip("numba not importable")
    preset = DmdtPreset("custom", dm_edges, dt_edges)
    values = st.one_of(st.sampled_from([*dm_edges, *dt_edges, 0.0]), st.floats(-60, 60, allow_nan=False))
    curves = [dmdt_module._checked_curve(np.array(data.draw(st.lists(values, min_size=n, max_size=n))),
                                         np.array(data.draw(st.lists(values, min_size=n, max_size=n))), k)
              for k, n in enumerate(data.draw(st.lists(st.integers(2, 15), min_size=1, max_size=4)))]
    np.testing.assert_array_equal(dmdt_module._pair_counts(curves, preset),
                                  dmdt_module._pair_counts_numpy(curves, preset))


def test_point_order_does_not_matter():
    rng = np.random.default_rng(2)
    t, m = random_curve(rng, 50)
    shuffled = rng.permutation(50)
    np.testing.assert_array_equal(dmdt(t[shuffled], m[shuffled]), dmdt(t, m))


def test_pairs255_counts_all_pairs_in_the_denominator():
    # 3 points: 3 pairs, one of them (dm = 20 mag) out of range -> two bins of 255/3
    image = dmdt(np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.05, 20.0]))
    assert np.count_nonzero(image) == 1 and image.max() == pytest.approx(255 / 3)


def test_scope_is_l2_normalised_and_empty_gives_zeros():
    rng = np.random.default_rng(3)
    t, m = random_curve(rng, 80)
    image = dmdt(t, m, "scope")
    assert image.shape == (26, 26)
    assert np.linalg.norm(image) == pytest.approx(1.0, rel=1e-6)
    expected = reference_counts(t, m, *DMDT_PRESETS["scope"])
    np.testing.assert_allclose(image, expected / np.linalg.norm(expected), rtol=1e-6)
    assert not dmdt(np.array([0.0, 5000.0]), np.array([0.0, 0.0]), "scope").any()


def test_custom_edges_and_normalisation_override_the_preset():
    rng = np.random.default_rng(4)
    t, m = random_curve(rng, 30)
    dm_edges, dt_edges = [-1.0, 0.0, 1.0], [0.0, 10.0, 1000.0]
    image = dmdt(t, m, dm_edges=dm_edges, dt_edges=dt_edges, normalisation="l2")
    expected = reference_counts(t, m, dm_edges, dt_edges)
    np.testing.assert_allclose(image, expected / np.linalg.norm(expected), rtol=1e-6)


@pytest.mark.parametrize("edges", [[1.0], [0.0, 0.0, 1.0], [0.0, np.inf], [[0.0, 1.0]]])
def test_bad_edges_are_refused(edges):
    with pytest.raises(InputError, match="edges"):
        DmdtPreset("bad", np.array([0.0, 1.0]), edges)


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="unknown"):
        dmdt(np.arange(3.0), np.arange(3.0), "nope")
    with pytest.raises(InputError, match="at least 2"):
        dmdt(np.array([1.0]), np.array([1.0]))
    with pytest.raises(InputError, match="'mag'"):
        dmdt(np.arange(3.0), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(InputError, match="normalisation"):
        dmdt(np.arange(3.0), np.arange(3.0), normalisation="max")


def test_renormalise_l2_equals_normalising_the_remaining_counts():
    rng = np.random.default_rng(5)
    curves = [random_curve(rng, 60) for _ in range(3)]
    scope = DMDT_PRESETS["scope"]
    images = np.stack([dmdt(t, m, scope) for t, m in curves])
    mask = rng.random(scope.shape) < 0.5
    renormalised = scope.renormalise(np.where(mask, 0.0, images))
    for k, (t, m) in enumerate(curves):
        kept = np.where(mask, 0.0, reference_counts(t, m, *scope))
        np.testing.assert_allclose(renormalised[k], kept / np.linalg.norm(kept), rtol=1e-5, atol=1e-7)
    assert not scope.renormalise(np.zeros((2, 26, 26))).any()
    crts_images = dmdt([t for t, _ in curves], [m for _, m in curves])
    deleted = np.where(mask[:22, :24], 0.0, crts_images)
    np.testing.assert_array_equal(DMDT_PRESETS["crts"].renormalise(deleted), deleted)


def test_streaming_chunks_preserve_order_and_size():
    rng = np.random.default_rng(6)
    curves = [LightCurve(str(k), *random_curve(rng, int(n)), magerr=np.full(int(n), 0.1))
              for k, n in enumerate(rng.integers(2, 50, 11))]
    chunks = list(iter_dmdt_chunks(iter(curves), "crts", chunk=4))
    assert [c.shape[0] for c in chunks] == [4, 4, 3]
    expected = np.stack([reference_crts(c.mjd, c.mag) for c in curves])
    np.testing.assert_allclose(np.concatenate(chunks), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(dmdt_from_lightcurves(curves, "crts", chunk=3), np.concatenate(chunks))
    assert dmdt_from_lightcurves([], "scope").shape == (0, 26, 26)


def test_multiband_stacks_one_dmdt_per_band_and_zeros_for_an_empty_band():
    rng = np.random.default_rng(7)
    t, m = random_curve(rng, 60)
    band = np.where(rng.random(60) < 0.5, "g", "r")
    curve = LightCurve("zb", t, m, np.full(60, 0.05), band=band)
    cube = dmdt_multiband(curve, bands=("g", "r", "i"), preset="scope")
    assert cube.shape == (26, 26, 3)
    for c, name in enumerate("gr"):
        np.testing.assert_array_equal(cube[..., c], dmdt(t[band == name], m[band == name], "scope"))
    assert not cube[..., 2].any()
    with pytest.raises(InputError, match="band"):
        dmdt_multiband(LightCurve("x", t, m, np.full(60, 0.05)))


def test_augment_noise_is_seeded_with_a_third_of_the_error():
    mag, magerr = np.full(40_000, 15.0), np.full(40_000, 0.3)
    a = augment_noise(mag, magerr, np.random.default_rng(8))
    np.testing.assert_array_equal(a, augment_noise(mag, magerr, np.random.default_rng(8)))
    assert np.std(a - mag) == pytest.approx(0.1, rel=0.03)
    assert abs(np.mean(a - mag)) < 0.003


def test_augment_lightcurves_copies_every_curve_deterministically():
    rng = np.random.default_rng(9)
    curves = [LightCurve(str(k), *random_curve(rng, 20), magerr=np.full(20, 0.1), label="EW") for k in range(3)]
    copies = augment_lightcurves(curves, n_copies=2, seed=1)
    assert [c.lcid for c in copies] == ["0#aug0", "0#aug1", "1#aug0", "1#aug1", "2#aug0", "2#aug1"]
    assert all(c.label == "EW" for c in copies)
    again = augment_lightcurves(curves, n_copies=2, seed=1)
    assert all(np.array_equal(a.mag, b.mag) for a, b in zip(copies, again))
    assert not np.array_equal(copies[0].mag, copies[1].mag)


def test_real_crts_curves_reproduce_the_reference_dmdts(kernel):
    reference = np.load(shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz"))
    curves = {c.lcid: c for c in read_lightcurves_npz(shared_path("crts-lightcurves-kvmu", "lightcurves.npz"))}
    chosen = [curves[str(i)] for i in reference["ids"]]
    np.testing.assert_array_equal(reference["dm_edges"], CRTS_DM)
    np.testing.assert_array_equal(reference["dt_edges"], CRTS_DT)
    images = dmdt_from_lightcurves(chosen, "crts")
    np.testing.assert_allclose(images, reference["dmdt"], rtol=0, atol=2e-6)


def test_a_long_curve_is_announced_before_its_pairs_are_counted(caplog):
    n = dmdt_module.LONG_CURVE_POINTS + 1
    t = np.linspace(0.0, 1000.0, n)
    with caplog.at_level("WARNING", logger="pix2pixai.data.dmdt_images"):
        dmdt_module._checked_curve(t, np.zeros(n), "long")
    assert "dmdt curve long" in caplog.text and f"{n} points" in caplog.text


def test_a_long_curve_counted_in_blocks_equals_the_whole_kernel_and_reports_progress(monkeypatch):
    if not dmdt_module.compiled_kernel_available():
        pytest.skip("numba is not installed")
    from pix2pixai.data import dmdt_compiled

    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0, 3000, 900))
    m = 15 + rng.normal(0, 0.5, t.size)
    preset = DMDT_PRESETS["crts"]
    dm, dt = dmdt_module._binner(tuple(preset.dm_edges)), dmdt_module._binner(tuple(preset.dt_edges)).bounds
    binning = (dt, dm.bounds, dm.table, dm.low, dm.scale, dm.last_cell)
    seen = []
    blocks = dmdt_compiled.long_curve_counts(t, m, *binning, blocks=7, progress=lambda d, n: seen.append(d / n))
    whole = dmdt_compiled.pair_counts(t, m, np.array([0, t.size]), *binning)[0]
    np.testing.assert_array_equal(blocks, whole)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) >= 5
    monkeypatch.setattr(dmdt_module, "LONG_CURVE_POINTS", 500)  # the dispatcher takes the block path
    np.testing.assert_array_equal(dmdt_module.dmdt_counts([t], [m], preset)[0], whole)
