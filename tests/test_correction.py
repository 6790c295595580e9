import json

import pytest

from redinstruct.errors import RedInstructError
from redinstruct.redeval._correction import JudgeCalibration, corrected_asr, load_calibration, rogan_gladen


def test_rogan_gladen_known_values():
    # se 0.9, sp 0.8: observed 0.5 -> (0.5 + 0.8 - 1) / 0.7 = 0.428571...
    assert rogan_gladen(0.5, 0.9, 0.8) == pytest.approx(0.3 / 0.7)
    assert rogan_gladen(0.1, 0.9, 0.8) == 0.0  # clipped below
    assert rogan_gladen(0.99, 0.9, 0.99) == 1.0  # clipped above
    assert rogan_gladen(0.5, 1.0, 1.0) == 0.5  # a perfect judge changes nothing
    assert rogan_gladen(0.5, 0.5, 0.5) is None  # a coin-flip judge tells nothing


def test_corrected_asr_interval_carries_both_uncertainties():
    calibration = JudgeCalibration(tp=90, fn=10, tn=80, fp=20)
    result = corrected_asr(50, 100, calibration, seed=1)
    assert result["asr_corrected"] == pytest.approx(0.3 / 0.7)
    assert result["judge_sensitivity"] == 0.9 and result["judge_specificity"] == 0.8
    low, high = result["asr_corrected_ci_low"], result["asr_corrected_ci_high"]
    assert low < result["asr_corrected"] < high
    # more calibration data narrows the interval; so does a larger evaluation
    big_calibration = corrected_asr(50, 100, JudgeCalibration(tp=900, fn=100, tn=800, fp=200), seed=1)
    big_eval = corrected_asr(500, 1000, calibration, seed=1)
    width = high - low
    assert big_calibration["asr_corrected_ci_high"] - big_calibration["asr_corrected_ci_low"] < width
    assert big_eval["asr_corrected_ci_high"] - big_eval["asr_corrected_ci_low"] < width
    # and the interval is reproducible for a seed
    assert corrected_asr(50, 100, calibration, seed=1) == result


def test_load_calibration_reads_calibrate_output(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"judge": "refusal", "metrics": {"tp": 3, "fn": 1, "tn": 5, "fp": 2, "agreement": 0.7}}))
    calibration = load_calibration(path)
    assert (calibration.sensitivity, calibration.specificity) == (0.75, 5 / 7)
    path.write_text(json.dumps({"metrics": {"tp": 3}}))
    with pytest.raises(RedInstructError, match="tp, fn, tn and fp"):
        load_calibration(path)
