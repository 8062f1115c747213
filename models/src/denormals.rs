//! Subnormal floats flushed to zero, as `torch.set_flush_denormal(True)` does in PyTorch.
//!
//! A float below 2^-126 (about 1.2e-38) in magnitude is subnormal, and x86 CPUs compute with one
//! tens of times more slowly than with a normal float. Training fills tensors with them when a
//! signal dies away: Adam's second moment of a gradient near zero, the tail of a softmax, a
//! weight decayed towards zero. NOSMOG's MLP on Amazon Computers slowed from 0.7 s to 22 s an
//! epoch by epoch 70 for that reason alone, and trained every epoch in 0.65 s with them flushed
//! (docs/nosmog.md). A subnormal is 0 to within 1e-38, so flushing never moves an accuracy.
//!
//! The switch is the CPU's floating-point control register (MXCSR's flush-to-zero and
//! denormals-are-zero bits on x86-64, FPCR's FZ bit on AArch64). It belongs to a thread, and a
//! new thread starts with its creator's: call [`flush_denormals`] at the start of `main`, before
//! libtorch's or rayon's worker threads exist, and every thread that computes inherits it.
//! `gdistill` does so unless `GDISTILL_KEEP_DENORMALS=1`.
//!
//! ```
//! use std::hint::black_box;
//!
//! // On a thread of its own, so that the doctest's other threads keep their setting.
//! std::thread::spawn(|| {
//!     let tiny = black_box(1e-30_f32);
//!     if gdistill_models::flush_denormals(true) {
//!         assert_eq!(tiny * black_box(1e-10), 0.0);
//!     }
//!     gdistill_models::flush_denormals(false);
//!     assert!(tiny * black_box(1e-10) > 0.0);
//! })
//! .join()
//! .unwrap();
//! ```

/// Flushes subnormal inputs and results to zero on this thread and on every thread it starts
/// later (`on`), or computes with them again (`!on`). Threads already running keep their own
/// setting, libtorch's pool among them once it has started. Returns whether the CPU has the
/// switch (x86-64 and AArch64 do); elsewhere it does nothing and returns false.
pub fn flush_denormals(on: bool) -> bool {
    control::set(on)
}

/// Whether this thread flushes subnormals to zero now.
pub fn flushing_denormals() -> bool {
    control::get()
}

// Rust's `_mm_setcsr` is deprecated in favour of inline assembly; the instructions are the same.
// The compiler assumes the default floating-point environment, so a constant it folds at build
// time may keep a subnormal that the same expression computed at run time would flush: harmless
// here, since nothing gdistill computes depends on a value below 1e-38.
#[cfg(target_arch = "x86_64")]
mod control {
    /// MXCSR bit 15: results that would be subnormal are written as zero.
    const FLUSH_TO_ZERO: u32 = 1 << 15;
    /// MXCSR bit 6: subnormal inputs are read as zero.
    const DENORMALS_ARE_ZERO: u32 = 1 << 6;
    const BOTH: u32 = FLUSH_TO_ZERO | DENORMALS_ARE_ZERO;

    fn read() -> u32 {
        let mut csr = 0u32;
        // SAFETY: stores the 32-bit MXCSR into a local the pointer names; no other effect.
        unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
        csr
    }

    pub fn set(on: bool) -> bool {
        let csr = read();
        let csr = if on { csr | BOTH } else { csr & !BOTH };
        // SAFETY: loads MXCSR from a local; only the two flush bits differ from the value read.
        unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly)) };
        true
    }

    pub fn get() -> bool {
        read() & BOTH == BOTH
    }
}

#[cfg(target_arch = "aarch64")]
mod control {
    /// FPCR bit 24 (FZ): subnormal inputs and results are flushed to zero.
    const FLUSH_TO_ZERO: u64 = 1 << 24;

    fn read() -> u64 {
        let fpcr: u64;
        // SAFETY: reads the floating-point control register; no other effect.
        unsafe { std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags)) };
        fpcr
    }

    pub fn set(on: bool) -> bool {
        let fpcr = read();
        let fpcr = if on { fpcr | FLUSH_TO_ZERO } else { fpcr & !FLUSH_TO_ZERO };
        // SAFETY: writes back the value read with only FZ changed.
        unsafe { std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags)) };
        true
    }

    pub fn get() -> bool {
        read() & FLUSH_TO_ZERO != 0
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod control {
    pub fn set(_on: bool) -> bool {
        false
    }

    pub fn get() -> bool {
        false
    }
}
