"""Subcategory heuristics: analytic features, agreement with simulated truth and with IPAC drb on real alerts."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from pix2pixai.data.classes import ZTF_SUBCATEGORIES
from pix2pixai.data.subcategories import assign_subcategories, subcategory_features
from pix2pixai.data.synthetic.triplets import simulate_triplets
from pix2pixai.errors import InputError
from tests.conftest import shared_path


def _noise_triplets(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, 63, 63, 3))
    x[..., :2] += 100.0
    return x


def test_features_of_analytic_cases():
    x = _noise_triplets(4)
    yy, xx = np.mgrid[0:63, 0:63] - 31.0
    gaussian = 40.0 * np.exp(-0.5 * (yy**2 + xx**2) / 1.2**2)  # FWHM 2.8 px, peak 40 sigma
    x[0, ..., 0] += gaussian
    x[0, ..., 2] += gaussian
    x[1, 31, 31, 2] += 60.0  # one hot pixel: sharper than any PSF
    x[2, :, 40, 2] += 3.0  # bad column: 3 sigma per pixel, 63 pixels
    x[3, :20, :, :] = 0.0  # blanked strip: 20 of 63 rows
    f = subcategory_features(x)
    assert f["central_snr"][0] > 50 and 0.15 < f["sharpness"][0] < 0.8
    assert f["sharpness"][1] > 0.95
    assert f["line_snr"][2] > 15 and f["line_snr"][0] < 8
    np.testing.assert_allclose(f["blank_fraction"], [0, 0, 0, 20 / 63], atol=1e-12)
    np.testing.assert_allclose(f["noise"][[1, 2]], 1.0, rtol=0.1)
    assert list(assign_subcategories(x)) == ["real_central", "bogus_non_blanked", "bogus_non_blanked",
                                             "bogus_blanked"]


def test_dipole_is_bogus_and_scale_free():
    x = _noise_triplets(1, seed=1)
    yy, xx = np.mgrid[0:63, 0:63] - 31.0
    lobe = lambda dx: 50.0 * np.exp(-0.5 * (yy**2 + (xx - dx) ** 2) / 1.2**2)  # noqa: E731
    x[0, ..., 2] += lobe(1.5) - lobe(-1.5)
    f = subcategory_features(x)
    assert f["dipole"][0] > 0.8 and assign_subcategories(x)[0] == "bogus_non_blanked"
    scaled = subcategory_features(x * 1e-3)
    np.testing.assert_allclose(scaled.pop("noise"), f.pop("noise") * 1e-3, rtol=1e-6)
    for name, value in f.items():
        np.testing.assert_allclose(scaled[name], value, rtol=1e-6, atol=1e-9, err_msg=name)


def test_agreement_with_simulated_ground_truth():
    sim = simulate_triplets(100, seed=0)  # measured 92.2 % (seeds 0-4: 91.4-93.6 %)
    assigned = assign_subcategories(sim.images)
    assert np.mean(assigned == sim.subcategory) >= 0.9
    with_labels = assign_subcategories(sim.images, labels=sim.label)
    assert np.array_equal(np.char.startswith(with_labels, "real"), sim.label == 1)
    assert np.mean(with_labels == sim.subcategory) >= 0.9


def test_a_sharp_residual_is_a_cosmic_ray_on_empty_sky_but_a_variable_star_over_a_ref_star():
    x = _noise_triplets(2, seed=2)
    yy, xx = np.mgrid[0:63, 0:63] - 31.0
    psf = np.exp(-0.5 * (yy**2 + xx**2) / 1.2**2)
    core = 30.0 * np.exp(-0.5 * (yy**2 + xx**2) / 0.4**2)  # narrower than the PSF: sharpness > 0.8
    x[:, ..., 2] += core
    x[:, ..., 0] += core
    x[1, ..., 0] += 200.0 * psf  # the same residual over a star present in SCI and REF
    x[1, ..., 1] += 200.0 * psf
    f = subcategory_features(x)
    assert (f["sharpness"] > 0.8).all() and f["ref_central_snr"][1] > 5 and f["ref_sharpness"][1] >= 0.3
    names = assign_subcategories(x)
    assert names[0] == "bogus_non_blanked" and names[1].startswith("real")


def test_overrides_by_index_candid_and_csv(tmp_path):
    x = _noise_triplets(3)
    base = assign_subcategories(x)
    assert list(base) == ["bogus_non_blanked"] * 3
    assert assign_subcategories(x, overrides={1: "real_mixture"})[1] == "real_mixture"
    table = tmp_path / "labels.csv"
    table.write_text("candid,subcategory\n42,real_central\n")
    named = assign_subcategories(x, overrides=table, candids=np.array([7, 42, 9]))
    assert list(named) == ["bogus_non_blanked", "real_central", "bogus_non_blanked"]
    bad = tmp_path / "bad.csv"
    bad.write_text("index,subcategory\n0,real_centre\n")
    with pytest.raises(InputError, match="real_centre"):
        assign_subcategories(x, overrides=bad)
    bad.write_text("index,subcategory\nfirst,real_central\n")
    with pytest.raises(InputError, match="row 2"):
        assign_subcategories(x, overrides=bad)
    with pytest.raises(InputError, match="out of range"):
        assign_subcategories(x, overrides={3: "real_central"})


def test_bad_shapes_and_labels():
    with pytest.raises(InputError, match=r"\[N, H, W, 3\]"):
        subcategory_features(np.zeros((2, 63, 63)))
    with pytest.raises(InputError, match="0 \\(bogus\\) / 1 \\(real\\)"):
        assign_subcategories(_noise_triplets(2), labels=np.array([1, 2]))


def test_real_fink_alerts_fall_on_the_side_of_ipac_drb():
    """400 real alerts: the heuristics (no labels) agree with IPAC drb >= 0.5 on >= 80 % (measured 80.0 %;
    78.5 -> 80.0 % on the seeded half where the REF-star waiver was found, 79.5 -> 80.0 % on the other)."""
    from pix2pixai.data.alerts import triplets_from_raw_cutouts

    folder = shared_path("fink-broker-ztf-alerts")
    with np.load(folder / "cutouts_raw.npz") as data:
        x = triplets_from_raw_cutouts(data["cutouts"], data["shapes"], "image")
    with open(folder / "alerts.csv", newline="") as fh:
        drb = np.array([float(row["drb"]) for row in csv.DictReader(fh)])
    assigned = assign_subcategories(x)
    assert set(assigned) <= set(ZTF_SUBCATEGORIES)
    looks_real = np.char.startswith(assigned, "real")
    assert np.count_nonzero(looks_real == (drb >= 0.5)) >= 0.8 * drb.size
    assert np.mean(looks_real[drb >= 0.5]) >= 0.95  # measured 96.5 %
    assert np.mean(~looks_real[drb < 0.5]) >= 0.35  # measured 38.6 %: many low-drb alerts look point-like


def test_btsbot_real_detections_look_real():
    """39 real (BTS-confirmed) detections, whole-image normalised: all 39 look real (measured)."""
    triplets = np.load(shared_path("btsbot", "usage_triplets.npy"))
    assert np.mean(np.char.startswith(assign_subcategories(triplets), "real")) >= 0.9
