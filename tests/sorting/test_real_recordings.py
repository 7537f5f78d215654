"""The real recordings in the shared data folder, through the same front door."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nwb_tavrnn.io.files import open_nwb
from nwb_tavrnn.io.read import ragged_rows
from nwb_tavrnn.sorting import DetectionParams, JobParams, detect_events, sort


@pytest.mark.slow  # about 50 s of sorting
def test_locust_tetrode_sorts_into_plausible_units(locust, tmp_path):
    path, options = locust
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sort(path, tmp_path / "locust.nwb", format="binary", reader_options=options, job=JobParams(n_jobs=2))
    print(f"locust: {result.info['num_units_sorted']} units sorted, {result.num_units} kept; "
          f"rates {np.round(result.metrics['firing_rate'].to_numpy(), 2).tolist()} Hz; "
          f"snr {np.round(result.metrics['snr'].to_numpy(), 1).tolist()}; timings {result.timings}")
    assert 2 <= result.num_units <= 30
    rates = result.metrics["firing_rate"].to_numpy()
    assert np.all((rates > 0.05) & (rates < 100))
    assert np.all(result.metrics["snr"].to_numpy() >= 3)
    with open_nwb(result.output) as nwbfile:
        assert len(nwbfile.units) == result.num_units
        assert len(nwbfile.electrodes) == 4
        # uncalibrated int16: waveforms kept in raw units, not mislabelled as volts
        assert "waveform_mean_raw" in nwbfile.units.colnames
        for times in ragged_rows(nwbfile.units, "spike_times"):
            assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() <= 28.8


def test_biocam_reads_and_runs_hdmea_mode(biocam, tmp_path):
    from nwb_tavrnn.validation import validate_file

    result = detect_events(biocam, tmp_path / "biocam.nwb", format="biocam", params=DetectionParams())
    assert result.info["num_channels"] == 36
    assert result.info["sampling_frequency"] > 19000
    assert result.info["scaled_to_uV"]
    assert np.all(result.noise_levels > 0)
    with open_nwb(result.output) as nwbfile:
        units = nwbfile.units
        assert len(units) == 36 == len(nwbfile.electrodes)
        # one node per electrode: ids are electrode ids, each row linked to its own electrode
        assert np.array_equal(np.asarray(units.id.data[:]), np.asarray(nwbfile.electrodes.id.data[:]))
        assert [list(r) for r in ragged_rows(units, "electrodes")] == [[i] for i in range(36)]
        positions = np.column_stack([nwbfile.electrodes["rel_x"].data[:], nwbfile.electrodes["rel_y"].data[:]])
        assert len(np.unique(positions, axis=0)) == 36
    report = validate_file(result.output)
    assert report.ok, [str(f) for f in report.problems]
