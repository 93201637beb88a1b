"""Blind video super-resolution with temporally consistent kernels (see docs/video_sr.md).

Modules, in pipeline order:
- `kernels`: anisotropic Gaussian kernels (sigma_x, sigma_y, theta), schedules over a clip, kernel metrics
  (estimation error, temporal consistency).
- `clips`: HR clips from bundled photographs under a known sub-pixel camera path (pan, zoom).
- `degradation`: blur, x2/x4 subsampling, noise; `DegradedClip` with ground truth, saved as .npz.
- `estimator`: a small learned per-frame kernel estimator (spectral features + MLP), trained on CPU.
- `temporal`: one kernel per clip, or temporally consistent kernels (windowed log-Euclidean fit, or a
  state-space model chosen by ML/BIC).
- `change`: a content-free kernel-change test and change track from the frames' spectra (the 'tested' and
  'tracked' settings).
- `decompose`: the estimator's error split into bias, drift and jitter; evidence-pooling treatments.
- `restoration`: non-blind SR conditioned on the kernel (half-quadratic splitting, closed-form data step, TV).
- `metrics`: PSNR/SSIM on luminance; `experiment` and `report`: the three-way comparison; `figures`: PNGs.
- `overlay`: the zoo's SR networks compiled and simulated on the overlay (fps at video resolutions).

Heavy dependencies (torch, scikit-image) are imported by the modules that need them, not here.
"""
