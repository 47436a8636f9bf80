"""The slicers compared, all with one interface: ``fit(X, y, probs)`` then ``score(X, y, probs)``.

``X`` are robust features, ``y`` the true (super)class ids, ``probs`` the inspected model's
predicted probabilities. ``score`` returns an images x slices matrix, higher = more inside the
slice (-inf: the slice cannot contain the image, e.g. another class); at most ``n_slices``
columns. ``reported`` is how many slices the method would hand a user as findings: all of
them for methods without a significance call, the valid failure modes for Barlow.

- ``BarlowSlicer``: Barlow's failure trees (``run_analysis``, label groups), honest (default:
  cross-fitting + permutation test) or the paper's in-sample mode; failure modes ranked across
  groups by excess failures (failures beyond the group's base rate), images scored by
  ``analysis_core.failure_scores`` (failures inside the rule first, each tier by closeness to the
  mode's failures); ``depth="auto"`` lets each group keep depth 1 or 2 by ALER - BER.
- ``DominoMixture``: Domino's error-aware mixture model (Eyuboglu et al., ICLR 2022), written
  from the paper and the package's documented defaults, because the package cannot be imported
  here (see ``domino_env``): a diagonal Gaussian mixture over the (PCA) embeddings whose
  components also carry a categorical distribution of the label and of the prediction.
- ``SpotlightSlicer``: Spotlight (d'Eon et al., FAccT 2022) from the paper: a Gaussian kernel in
  embedding space placed, by gradient ascent, where the weighted mean loss is highest, its
  width held above a minimum size; successive spotlights discount the loss already covered.
- ``FailureDirections``: Jain et al. (ICLR 2023): per class a class-balanced linear SVM on the
  normalized embeddings separates failures from successes; the SVM's decision value ranks the
  class's images.
- ``KMeansFailures``: k-means on the failures' embeddings; images are scored by closeness to
  each centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis_core.failure_scores import LeafProfile, leaf_profile, score_leaf


def _failure(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return probs.argmax(1) != y


@dataclass
class _Mode:
    class_id: int
    leaf: int
    nodes: list
    profile: LeafProfile
    valid: bool


class BarlowSlicer:
    """Barlow's failure modes as slices. ``honest=False`` is the paper's in-sample mode (no cross-fitting, no test)."""

    def __init__(self, n_slices: int = 5, depth: int = 1, honest: bool = True, permutations: int = 100,
                 seed: int = 0, order: str = "score") -> None:
        self.n_slices, self.depth, self.honest = n_slices, depth, honest
        # order: the failure_scores column that ranks images ("score", or "margin" to measure it alone).
        self.permutations, self.seed, self.order = permutations, seed, order

    def _analyse(self, X, y, probs, depth: int):
        from analysis_core.failure_analysis import AnalysisConfig, run_analysis

        config = AnalysisConfig(grouping="label", depth=depth, seed=self.seed,
                                folds=5 if self.honest else 0, permutations=self.permutations if self.honest else 0)
        result = run_analysis(X, y, probs.argmax(1), config, progress=False)
        table = result.failure_modes.copy()
        if self.honest:
            table["excess"] = table["honest_n_fail_leaf"] - table["honest_n_leaf"] * table["ber"]
            table["is_valid"] = table["valid"]
            table["gain"] = table["honest_aler_minus_ber"]
        else:
            table["excess"] = table["n_fail_leaf"] - table["n_leaf"] * table["ber"]
            table["is_valid"] = table["valid_in_sample"]
            table["gain"] = table["aler_minus_ber"]
        table["depth_run"] = depth
        return result, table, config.alpha

    def fit(self, X, y, probs) -> "BarlowSlicer":
        import pandas as pd

        # depth "auto": every depth is analysed and each group keeps the depth with the best
        # honest (or, in-sample mode, in-sample) ALER - BER.
        depths = (1, 2) if self.depth == "auto" else (int(self.depth),)
        runs = {d: self._analyse(X, y, probs, d) for d in depths}
        alpha = runs[depths[0]][2]
        gains = pd.concat([t.drop_duplicates("class")[["class", "gain", "depth_run"]] for _, t, _ in runs.values()])
        best = gains.sort_values(["gain", "depth_run"], ascending=[False, True], kind="stable").drop_duplicates("class")
        chosen = dict(zip(best["class"], best["depth_run"]))
        table = pd.concat([t[t["class"].map(chosen) == d] for d, (_, t, _) in runs.items()])
        table = table.sort_values(["is_valid", "excess"], ascending=[False, False], kind="stable")
        self.table_ = table
        self.groups_ = len(chosen)
        self.valid_groups_ = int(table.groupby("class")["is_valid"].any().sum()) if len(table) else 0
        self.significant_groups_ = int((table.drop_duplicates("class")["group_q_value"] <= alpha).sum()) if self.honest and len(table) else 0
        self.reported = int(table["is_valid"].sum())
        self.modes_ = []
        failure = _failure(y, probs)
        for _, row in table.head(self.n_slices).iterrows():
            tree = runs[int(row["depth_run"])][0].group("label", row["class"]).tree
            rows = np.flatnonzero(np.asarray(y).astype(str) == row["class"])
            profile = leaf_profile(tree.nodes_, int(row["leaf"]), tree.selected_features_, X[rows], failure[rows])
            self.modes_.append(_Mode(int(row["class"]), int(row["leaf"]), tree.nodes_, profile, bool(row["is_valid"])))
        return self

    def valid_classes(self) -> set[int]:
        return {int(c) for c in self.table_[self.table_["is_valid"]]["class"]}

    def score(self, X, y, probs) -> np.ndarray:
        failure = _failure(y, probs)
        out = np.full((len(y), len(self.modes_)), -np.inf)
        for j, mode in enumerate(self.modes_):
            rows = np.flatnonzero(y == mode.class_id)
            scored = score_leaf(mode.nodes, mode.leaf, X[rows], failure[rows], mode.profile)
            out[rows, j] = scored[self.order]
        return out


class DominoMixture:
    """Domino's mixture model from the paper, with the package's defaults (25 components, 5 slices,
    diagonal covariances, PCA to 128, label and prediction weights 1, 100 EM steps, confusion init)."""

    def __init__(self, n_slices: int = 5, n_components: int = 25, y_weight: float = 1.0, y_hat_weight: float = 1.0,
                 max_iter: int = 100, n_pca: int = 128, seed: int = 0, reg: float = 1e-6, noise: float = 1e-3) -> None:
        self.n_slices, self.n_components, self.y_weight, self.y_hat_weight = n_slices, n_components, y_weight, y_hat_weight
        self.max_iter, self.n_pca, self.seed, self.reg, self.noise = max_iter, n_pca, seed, reg, noise
        self.reported = n_slices

    def _log_resp(self, Z, Y, P):
        from scipy.special import logsumexp

        precision = 1.0 / self.var_
        # Expanded square (z - mu)^2 / var as matrix products: n x K without an n x K x d array.
        gauss = -0.5 * (np.log(2 * np.pi * self.var_).sum(1)[None, :] + (Z ** 2) @ precision.T
                        - 2 * Z @ (self.mean_ * precision).T + (self.mean_ ** 2 * precision).sum(1)[None, :])
        log = (np.log(self.weights_)[None, :] + gauss
               + self.y_weight * Y @ np.log(self.y_probs_).T + self.y_hat_weight * P @ np.log(self.y_hat_probs_).T)
        norm = logsumexp(log, axis=1, keepdims=True)
        return log - norm, float(norm.mean())

    def _m_step(self, Z, Y, P, resp):
        nk = resp.sum(0) + 10 * np.finfo(float).eps
        self.weights_ = nk / nk.sum()
        self.mean_ = resp.T @ Z / nk[:, None]
        self.var_ = np.maximum(resp.T @ (Z ** 2) / nk[:, None] - self.mean_ ** 2, 0) + self.reg
        self.y_probs_ = np.clip(resp.T @ Y / nk[:, None], 1e-8, None)
        self.y_hat_probs_ = np.clip(resp.T @ P / nk[:, None], 1e-8, None)

    def fit(self, X, y, probs) -> "DominoMixture":
        from sklearn.decomposition import PCA

        rng = np.random.default_rng(self.seed)
        self.pca_ = PCA(n_components=min(self.n_pca, X.shape[1], X.shape[0]), random_state=self.seed).fit(X)
        Z = self.pca_.transform(X)
        Y = np.eye(probs.shape[1])[y]
        # Confusion initialisation: each component starts on one (label, prediction) cell.
        cell = y * probs.shape[1] + probs.argmax(1)
        cells = rng.permutation(np.unique(cell))
        resp = np.stack([(cell == cells[j % len(cells)]).astype(float) for j in range(self.n_components)], axis=1)
        resp += self.noise * rng.random(resp.shape)
        resp /= resp.sum(1, keepdims=True)
        previous = -np.inf
        for _ in range(self.max_iter):
            self._m_step(Z, Y, probs, resp)
            log_resp, mean_log = self._log_resp(Z, Y, probs)
            resp = np.exp(log_resp)
            if abs(mean_log - previous) < 1e-3:
                break
            previous = mean_log
        self._m_step(Z, Y, probs, resp)
        gap = np.abs(self.y_probs_ - self.y_hat_probs_).max(1)
        self.slices_ = np.argsort(-gap, kind="stable")[: self.n_slices]
        return self

    def score(self, X, y, probs) -> np.ndarray:
        log_resp, _ = self._log_resp(self.pca_.transform(X), np.eye(probs.shape[1])[y], probs)
        return np.exp(log_resp[:, self.slices_])


class SpotlightSlicer:
    """Spotlight from the paper: spotlight size 2 % of the images (the paper's recommendation)."""

    def __init__(self, n_slices: int = 5, size: float = 0.02, steps: int = 1000, lr: float = 1e-2, seed: int = 0) -> None:
        self.n_slices, self.size, self.steps, self.lr, self.seed = n_slices, size, steps, lr, seed
        self.reported = n_slices

    def fit(self, X, y, probs) -> "SpotlightSlicer":
        import torch

        torch.manual_seed(self.seed)
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-8
        Z = torch.tensor((X - self.mu_) / self.sd_, dtype=torch.float64)
        z2 = (Z ** 2).sum(1)
        loss = torch.tensor(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)), dtype=torch.float64)
        min_weight = self.size * len(y)
        rng = np.random.default_rng(self.seed)
        self.centres_, self.log_precisions_ = [], []
        d2_scale = float(((Z - Z.mean(0)) ** 2).sum(1).median())
        for _ in range(self.n_slices):
            # Start on a high-loss image, with a kernel about as wide as the data.
            start = int(rng.choice(np.argsort(-loss.numpy())[:50]))
            centre = Z[start].clone().requires_grad_(True)
            log_precision = torch.tensor(np.log(1.0 / d2_scale), dtype=torch.float64, requires_grad=True)
            optimizer = torch.optim.Adam([centre, log_precision], lr=self.lr)
            for _ in range(self.steps):
                optimizer.zero_grad()
                weight = torch.exp(-(z2 - 2 * Z @ centre + centre @ centre) * torch.exp(log_precision))
                total = weight.sum()
                # Barrier: the spotlight may not shrink below min_weight images' worth of weight.
                objective = -(weight * loss).sum() / total + 10.0 * torch.relu(min_weight - total) / min_weight
                objective.backward()
                optimizer.step()
            with torch.no_grad():
                weight = torch.exp(-((Z - centre) ** 2).sum(1) * torch.exp(log_precision))
                loss = loss * (1 - weight / weight.max())
            self.centres_.append(centre.detach().numpy().copy())
            self.log_precisions_.append(float(log_precision.detach()))
        return self

    def score(self, X, y, probs) -> np.ndarray:
        Z = (X - self.mu_) / self.sd_
        return np.stack([-((Z - c) ** 2).sum(1) * np.exp(lp) for c, lp in zip(self.centres_, self.log_precisions_)], axis=1)


class FailureDirections:
    """Per class, a class-balanced linear SVM (C by 3-fold cross-validation) on L2-normalized features."""

    def __init__(self, seed: int = 0, Cs=(0.01, 0.1, 1.0)) -> None:
        self.seed, self.Cs = seed, Cs

    @staticmethod
    def _normalize(X):
        return X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-12)

    def fit(self, X, y, probs) -> "FailureDirections":
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        failure = _failure(y, probs)
        Z = self._normalize(X)
        self.svms_ = {}
        for c in np.unique(y):
            rows = y == c
            if failure[rows].sum() < 3 or (~failure[rows]).sum() < 3:
                continue
            pipe = make_pipeline(StandardScaler(), LinearSVC(class_weight="balanced", random_state=self.seed, max_iter=5000))
            search = GridSearchCV(pipe, {"linearsvc__C": list(self.Cs)}, cv=3, scoring="balanced_accuracy")
            self.svms_[int(c)] = search.fit(Z[rows], failure[rows]).best_estimator_
        self.reported = len(self.svms_)
        return self

    def score(self, X, y, probs) -> np.ndarray:
        Z = self._normalize(X)
        out = np.full((len(y), max(1, len(self.svms_))), -np.inf)
        for j, (c, svm) in enumerate(self.svms_.items()):
            rows = y == c
            if rows.any():
                out[rows, j] = svm.decision_function(Z[rows])
        return out


class KMeansFailures:
    """k-means (k = n_slices) on the standardized features of the failures."""

    def __init__(self, n_slices: int = 5, seed: int = 0) -> None:
        self.n_slices, self.seed = n_slices, seed
        self.reported = n_slices

    def fit(self, X, y, probs) -> "KMeansFailures":
        from sklearn.cluster import KMeans

        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-8
        Z = (X[_failure(y, probs)] - self.mu_) / self.sd_
        self.kmeans_ = KMeans(n_clusters=min(self.n_slices, len(Z)), n_init=10, random_state=self.seed).fit(Z)
        return self

    def score(self, X, y, probs) -> np.ndarray:
        return -self.kmeans_.transform((X - self.mu_) / self.sd_)
