//! The inert pickle reader: known values decode exactly; corrupt input errors, never panics.

#[path = "../../tests/support/data.rs"]
mod common;

use gdistill_datasets::array::ArrayData;
use gdistill_datasets::pickle::decode::{decode_adjacency_dict, decode_ndarray, decode_sparse_matrix};
use gdistill_datasets::pickle::{Pickle, Value};

// Written by Python 3 / numpy 2 / scipy 1.17 (`pickle.dumps(x, protocol=2 or 4)`): byte strings
// go through `_codecs.encode(text, 'latin1')`, numpy lives in `numpy._core`.
/// `np.array([[1.5, 0], [0, -2]], dtype=np.float32)`, protocol 2.
const PY3_F32_PROTO2: &[u8] = b"\x80\x02cnumpy._core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02c_codecs\x0aencode\x0aq\x03X\x01\x00\x00\x00bq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x87q\x08Rq\x09(K\x01K\x02K\x02\x86q\x0acnumpy\x0adtype\x0aq\x0bX\x02\x00\x00\x00f4q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00<q\x0fNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x10b\x89h\x03X\x12\x00\x00\x00\x00\x00\xc3\x80?\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc3\x80q\x11h\x05\x86q\x12Rq\x13tq\x14b.";
/// `np.array([3, -1], dtype=np.int64)`, protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINBYTES).
const PY3_I64_PROTO4: &[u8] = b"\x80\x04\x95\x99\x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x02\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02i8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x10\x03\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x94t\x94b.";
/// `scipy.sparse.csr_matrix([[0, 2.5, 0], [1, 0, 0]], dtype=np.float32)`, protocol 2.
const PY3_CSR_PROTO2: &[u8] = b"\x80\x02cscipy.sparse._csr\x0acsr_matrix\x0aq\x00)\x81q\x01}q\x02(X\x06\x00\x00\x00_shapeq\x03K\x02K\x03\x86q\x04X\x08\x00\x00\x00maxprintq\x05K2X\x06\x00\x00\x00indptrq\x06cnumpy._core.multiarray\x0a_reconstruct\x0aq\x07cnumpy\x0andarray\x0aq\x08K\x00\x85q\x09c_codecs\x0aencode\x0aq\x0aX\x01\x00\x00\x00bq\x0bX\x06\x00\x00\x00latin1q\x0c\x86q\x0dRq\x0e\x87q\x0fRq\x10(K\x01K\x03\x85q\x11cnumpy\x0adtype\x0aq\x12X\x02\x00\x00\x00i4q\x13\x89\x88\x87q\x14Rq\x15(K\x03X\x01\x00\x00\x00<q\x16NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x17b\x89h\x0aX\x0c\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00q\x18h\x0c\x86q\x19Rq\x1atq\x1bbX\x07\x00\x00\x00indicesq\x1ch\x07h\x08K\x00\x85q\x1dh\x0e\x87q\x1eRq\x1f(K\x01K\x02\x85q h\x15\x89h\x0aX\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00q!h\x0c\x86q\x22Rq#tq$bX\x04\x00\x00\x00dataq%h\x07h\x08K\x00\x85q&h\x0e\x87q'Rq((K\x01K\x02\x85q)h\x12X\x02\x00\x00\x00f4q*\x89\x88\x87q+Rq,(K\x03h\x16NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq-b\x89h\x0aX\x09\x00\x00\x00\x00\x00 @\x00\x00\xc2\x80?q.h\x0c\x86q/Rq0tq1bub.";
/// `defaultdict(list, {0: [1, 2], 2: [0]})`, protocol 2.
const PY3_DEFAULTDICT_PROTO2: &[u8] = b"\x80\x02ccollections\x0adefaultdict\x0aq\x00c__builtin__\x0alist\x0aq\x01\x85q\x02Rq\x03(K\x00]q\x04(K\x01K\x02eK\x02]q\x05K\x00au.";

/// Emits Python-2 style opcodes, the way the Planetoid `ind.*` files were written.
#[derive(Default)]
struct Py2Writer {
    out: Vec<u8>,
    memo: u8,
}

impl Py2Writer {
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }
    fn put(&mut self) -> &mut Self {
        self.memo += 1;
        let m = self.memo;
        self.op(&[b'q', m])
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(format!("c{module}\n{name}\n").as_bytes()).put()
    }
    fn short_str(&mut self, s: &str) -> &mut Self {
        self.op(&[b'U', s.len() as u8]).op(s.as_bytes())
    }
    fn binstring(&mut self, data: &[u8]) -> &mut Self {
        self.op(b"T").op(&(data.len() as u32).to_le_bytes()).op(data)
    }
    fn int(&mut self, v: u16) -> &mut Self {
        self.op(b"M").op(&v.to_le_bytes())
    }
    /// A numpy array of dtype `kind` ('f4', 'i4') with the given shape and raw data.
    fn ndarray(&mut self, kind: &str, shape: &[u16], data: &[u8]) -> &mut Self {
        self.global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
        self.op(b"K\x00\x85").short_str("b").op(b"\x87R").put().op(b"(K\x01(");
        for &d in shape {
            self.int(d);
        }
        self.op(b"t").global("numpy", "dtype").short_str(kind).op(b"K\x00K\x01\x87R").put();
        self.op(b"(K\x03").short_str("<").op(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
        self.op(b"\x89").binstring(data).op(b"tb")
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A Python-2 protocol-2 pickle of a 2 x 3 CSR matrix [[0, 2.5, 0], [1, 0, -3]].
fn py2_csr() -> Vec<u8> {
    let mut w = Py2Writer::default();
    w.op(b"\x80\x02").global("scipy.sparse.csr", "csr_matrix").op(b")\x81").put().op(b"}").put().op(b"(");
    w.short_str("format").short_str("csr").short_str("_shape").int(2).int(3).op(b"\x86");
    w.short_str("indptr").ndarray("i4", &[3], &i32_bytes(&[0, 1, 3]));
    w.short_str("indices").ndarray("i4", &[3], &i32_bytes(&[1, 2, 0])); // row 1 unsorted
    w.short_str("data").ndarray("f4", &[3], &f32_bytes(&[2.5, -3.0, 1.0]));
    w.op(b"ub.");
    w.out.clone()
}

#[test]
fn a_hand_built_python2_csr_matrix_decodes_exactly() {
    let bytes = py2_csr();
    let p = Pickle::parse(&bytes).unwrap();
    let m = decode_sparse_matrix(&p, p.root()).unwrap();
    assert_eq!(m.shape(), (2, 3));
    assert_eq!(m.to_dense().into_raw_vec_and_offset().0, vec![0.0, 2.5, 0.0, 1.0, 0.0, -3.0]);
}

#[test]
fn python3_pickles_decode_exactly() {
    let p = Pickle::parse(PY3_F32_PROTO2).unwrap();
    let a = decode_ndarray(&p, p.root()).unwrap();
    assert_eq!(a.shape, vec![2, 2]);
    assert_eq!(a.data, ArrayData::F32(vec![1.5, 0.0, 0.0, -2.0]));

    let p = Pickle::parse(PY3_I64_PROTO4).unwrap();
    assert_eq!(decode_ndarray(&p, p.root()).unwrap().to_i64().unwrap(), vec![3, -1]);

    let p = Pickle::parse(PY3_CSR_PROTO2).unwrap();
    let m = decode_sparse_matrix(&p, p.root()).unwrap();
    assert_eq!(m.to_dense().into_raw_vec_and_offset().0, vec![0.0, 2.5, 0.0, 1.0, 0.0, 0.0]);

    let p = Pickle::parse(PY3_DEFAULTDICT_PROTO2).unwrap();
    assert_eq!(decode_adjacency_dict(&p, p.root()).unwrap(), vec![(0, vec![1, 2]), (2, vec![0])]);
}

#[test]
fn decoders_refuse_the_wrong_kind_of_value() {
    let p = Pickle::parse(PY3_DEFAULTDICT_PROTO2).unwrap();
    assert!(decode_ndarray(&p, p.root()).unwrap_err().contains("collections.defaultdict"));
    assert!(decode_sparse_matrix(&p, p.root()).is_err());
    let p = Pickle::parse(b"\x80\x02K\x05.").unwrap();
    assert_eq!(*p.root(), Value::Int(5));
    assert!(decode_adjacency_dict(&p, p.root()).is_err());
}

/// Parses and decodes as everything; must return, whatever the bytes.
fn parse_and_decode(bytes: &[u8]) -> bool {
    match Pickle::parse(bytes) {
        Ok(p) => {
            let _ = decode_ndarray(&p, p.root());
            let _ = decode_sparse_matrix(&p, p.root());
            let _ = decode_adjacency_dict(&p, p.root());
            true
        }
        Err(e) => {
            assert!(e.offset <= bytes.len());
            false
        }
    }
}

#[test]
fn every_truncation_is_an_error_and_no_byte_flip_panics() {
    for bytes in [
        py2_csr(),
        PY3_F32_PROTO2.to_vec(),
        PY3_I64_PROTO4.to_vec(),
        PY3_CSR_PROTO2.to_vec(),
        PY3_DEFAULTDICT_PROTO2.to_vec(),
    ] {
        for end in 0..bytes.len() {
            assert!(!parse_and_decode(&bytes[..end]), "a pickle truncated at {end} of {} parsed", bytes.len());
        }
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff, 0x20] {
                let mut corrupt = bytes.clone();
                corrupt[pos] ^= flip;
                parse_and_decode(&corrupt);
            }
        }
    }
    // a pseudo-random soup of opcodes
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let len = (state % 64) as usize;
        let soup: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        parse_and_decode(&soup);
    }
}

#[test]
fn hostile_lengths_and_references_are_errors() {
    for bytes in [
        &b"\x80\x02T\xff\xff\xff\x7fabc."[..], // BINSTRING longer than the input
        b"\x80\x02T\xff\xff\xff\xff.",         // negative BINSTRING length
        b"\x80\x02h\x07.",                     // BINGET of a key never stored
        b"\x80\x02e.",                         // APPENDS without MARK
        b"\x80\x02(K\x01.",                    // a MARK left open at STOP: accepted, as by Python
        b"\x80\x02(0.",                        // POP below the mark
        b"\x80\x02K\x01K\x02b.",               // BUILD on an int
        b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", // 72-bit integer
        b"\x80\x06.",                          // unknown protocol
        b"\x80\x02cos\nsystem\n(S'ls'\ntR.",   // text opcodes are refused; nothing runs anyway
    ] {
        let r = Pickle::parse(bytes);
        if bytes == b"\x80\x02(K\x01." {
            assert!(r.is_ok()); // Python accepts this too
        } else {
            assert!(r.is_err(), "{bytes:?} parsed");
        }
    }
}

#[test]
fn the_real_planetoid_pickles_survive_truncation() {
    let Some(dir) = common::data_dir("cora") else { return };
    let bytes = std::fs::read(dir.join("ind.cora.y")).unwrap();
    for end in (0..bytes.len()).step_by(7) {
        assert!(Pickle::parse(&bytes[..end]).is_err());
    }
    let p = Pickle::parse(&bytes).unwrap();
    let y = decode_ndarray(&p, p.root()).unwrap();
    assert_eq!(y.shape, vec![140, 7]);
}
