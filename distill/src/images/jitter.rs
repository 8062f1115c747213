//! Input jitter: every image shifted by its own random offset, as Hinton et al. (2015) trained
//! their MNIST teacher ("jittered by up to two pixels in any direction").
//!
//! Each image of a batch gets a row and a column offset drawn uniformly from
//! `-max_shift..=max_shift` (libtorch's generator, so a seed fixes them); pixels shifted in from
//! outside are background (0). One gather on a zero-padded copy does the whole batch.
//!
//! ```
//! use gdistill_distill::images::random_shifts;
//! use tch::{Device, Kind, Tensor};
//! let images = Tensor::ones([4, 6, 6], (Kind::Float, Device::Cpu));
//! let shifted = random_shifts(&images, 2);
//! assert_eq!(shifted.size(), [4, 6, 6]);
//! // a shift moves ink out of the frame but never adds any
//! assert!(shifted.sum(Kind::Float).double_value(&[]) <= 4.0 * 36.0);
//! assert_eq!(random_shifts(&images, 0).sum(Kind::Float).double_value(&[]), 4.0 * 36.0);
//! ```

use tch::{Kind, Tensor};

/// `images` (`[B, H, W]`), each shifted by up to `max_shift` pixels in each direction.
pub fn random_shifts(images: &Tensor, max_shift: i64) -> Tensor {
    if max_shift <= 0 {
        return images.shallow_clone();
    }
    let (batch, h, w) = match images.size()[..] {
        [b, h, w] => (b, h, w),
        ref other => panic!("random_shifts expects [batch, height, width], got {other:?}"),
    };
    let device = images.device();
    let draw = || Tensor::randint_low(-max_shift, max_shift + 1, [batch, 1, 1], (Kind::Int64, device));
    shift_by(images, &draw(), &draw(), max_shift, (h, w))
}

/// `images` shifted by `dy[b]` rows and `dx[b]` columns (`[B, 1, 1]` each, within `±pad`).
fn shift_by(images: &Tensor, dy: &Tensor, dx: &Tensor, pad: i64, (h, w): (i64, i64)) -> Tensor {
    let batch = images.size()[0];
    let device = images.device();
    let padded = images.constant_pad_nd([pad, pad, pad, pad]); // [B, H + 2p, W + 2p]
    let wide = w + 2 * pad;
    // output pixel (r, c) reads padded pixel (r - dy + p, c - dx + p): the content moves by (dy, dx)
    let rows = Tensor::arange(h, (Kind::Int64, device)).view([1, h, 1]) - dy + pad;
    let cols = Tensor::arange(w, (Kind::Int64, device)).view([1, 1, w]) - dx + pad;
    let flat = (rows * wide + cols).reshape([batch, h * w]);
    padded.reshape([batch, -1]).gather(1, &flat, false).view([batch, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn shifts_move_content_by_the_offsets() {
        // a single lit pixel at (2, 3) of a 5x6 image
        let mut pixels = vec![0f32; 30];
        pixels[2 * 6 + 3] = 1.0;
        let image = Tensor::from_slice(&pixels).view([1, 5, 6]);
        let batch = Tensor::cat(&[&image, &image, &image], 0);
        let dy = Tensor::from_slice(&[1i64, -2, 0]).view([3, 1, 1]);
        let dx = Tensor::from_slice(&[-1i64, 2, 0]).view([3, 1, 1]);
        let shifted = shift_by(&batch, &dy, &dx, 2, (5, 6));
        let lit = |b: i64| {
            let v: Vec<f32> = Vec::try_from(shifted.get(b).reshape([-1])).unwrap();
            v.iter().position(|&x| x == 1.0).map(|k| (k / 6, k % 6))
        };
        assert_eq!(lit(0), Some((3, 2)));
        assert_eq!(lit(1), Some((0, 5)));
        assert_eq!(lit(2), Some((2, 3)));
        assert_eq!(shifted.sum(Kind::Float).double_value(&[]), 3.0);
        // shifted off the edge: gone, not wrapped around
        let corner = Tensor::zeros([1, 5, 6], (Kind::Float, Device::Cpu));
        let _ = corner.get(0).get(0).get(0).fill_(1.0);
        let up = Tensor::from_slice(&[-1i64]).view([1, 1, 1]);
        let off = shift_by(&corner, &up, &Tensor::zeros([1, 1, 1], (Kind::Int64, Device::Cpu)), 2, (5, 6));
        assert_eq!(off.sum(Kind::Float).double_value(&[]), 0.0);
    }
}
