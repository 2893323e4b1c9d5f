from llm_mesh.prompts import stats
from llm_mesh.prompts.experiments import assign
from llm_mesh.prompts.config import ExperimentConfig


def test_hand_written_welch_p_value_matches_reference():
    scipy_stats = __import__("pytest").importorskip("scipy.stats")
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    mean_a, var_a = stats.mean_var(a)
    mean_b, var_b = stats.mean_var(b)
    t = (mean_b - mean_a) / ((var_a / 5 + var_b / 6) ** 0.5)
    df = (var_a / 5 + var_b / 6) ** 2 / ((var_a / 5) ** 2 / 4 + (var_b / 6) ** 2 / 5)
    reference = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert abs(t - reference.statistic) < 1e-9
    assert abs(stats.t_two_sided_p(t, df) - reference.pvalue) < 1e-9
    assert abs(stats.t_two_sided_p(0.0, 10) - 1.0) < 1e-9


def test_two_proportions():
    result = stats.two_proportions(30, 100, 50, 100)
    assert abs(result["z"] - 2.89) < 0.01 and result["p"] < 0.01


def test_assignment_is_sticky_and_weighted():
    config = ExperimentConfig(prompt="p", variants={"a": {"version": 1, "weight": 9}, "b": {"version": 2, "weight": 1}})
    picks = [assign("e", f"user{n}", config) for n in range(2000)]
    assert picks == [assign("e", f"user{n}", config) for n in range(2000)]
    assert 0.85 < picks.count("a") / 2000 < 0.95
