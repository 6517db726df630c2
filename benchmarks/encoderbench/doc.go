// Package encoderbench is the encoder benchmark suite behind `recorder-bench`: for each scene ×
// resolution × encoder/preset it measures the engine's pipeline (`recorder record`, a child
// process) and the ffmpeg CLI doing the same capture and encode, alternating the two in one run
// on a private Xvfb, and, in encode-only mode, feeds the same stored raw frames to the engine's
// converter and encoder and to `ffmpeg -f rawvideo`. It records CPU (user+sys), max RSS,
// frames, bitrate and quality (SSIM and PSNR against the source frames), and writes bench.json,
// bench.md and SVG charts.
//
// Timings are compared as ratios (recorder / ffmpeg CLI) measured in the same run; absolute
// numbers depend on the machine and are only reported.
package encoderbench
