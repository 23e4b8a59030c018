"""Learning-curve PNGs: noisy per-meta-epoch series get a trailing mean over their finite points."""

import numpy as np

from rlsl_jax.report import plot_curve, running_mean


def test_running_mean_skips_nans_and_short_series(tmp_path):
    xs = np.arange(100.0)
    ys = xs.copy()
    ys[::5] = np.nan                           # 80 finite points -> window 80 // 25 = 3
    x_s, m, w = running_mean(xs, ys)
    assert w == 3
    fin_x, fin_y = xs[np.isfinite(ys)], ys[np.isfinite(ys)]
    np.testing.assert_array_equal(x_s, fin_x[2:])
    np.testing.assert_allclose(m, (fin_y[:-2] + fin_y[1:-1] + fin_y[2:]) / 3)
    assert running_mean(xs[:49], xs[:49]) is None

    log = tmp_path / "log.csv"
    log.write_text("meta_epoch,episode_return\n" + "".join(f"{i},{'nan' if i % 3 else i}\n" for i in range(200)))
    plot_curve(log, tmp_path / "c.png", "meta_epoch", ["episode_return"], "t")
    assert (tmp_path / "c.png").stat().st_size > 1000
