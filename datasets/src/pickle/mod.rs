//! A small, safe reader of Python pickles (protocols 0-4 binary opcodes) that executes nothing.
//!
//! The Planetoid `ind.*` files are Python-2 pickles (protocol 2) of numpy arrays, scipy CSR
//! matrices and a `defaultdict(list)`. [`Pickle::parse`] runs the pickle machine over the opcodes
//! those files use (and the few more that Python 3 writes by default), but never imports or calls
//! anything: `GLOBAL` yields an inert [`Node::Global`] naming the class, and `REDUCE`, `NEWOBJ`,
//! `BUILD`, `SETITEM(S)` and `APPEND(S)` on it just record their arguments in a [`Node::Object`].
//! The [`decode`] module then interprets those records as numpy / scipy values.
//!
//! Every value with identity (strings, tuples, lists, dicts, objects) lives in one flat arena and
//! is referred to by [`Value::Ref`]; the memo shares references, so in-place mutation
//! (`BUILD` on a memoised dtype, `APPENDS` on a memoised list) behaves as in Python. Nothing
//! recurses over the input, memory stays proportional to the input, and any malformed or
//! truncated input gives a [`PickleError`] with the byte offset, never a panic.
//!
//! ```
//! use gdistill_datasets::pickle::{Node, Pickle, Value};
//! // pickle.dumps((1, 'ab'), protocol=2)
//! let p = Pickle::parse(b"\x80\x02K\x01X\x02\x00\x00\x00abq\x00\x86q\x01.").unwrap();
//! let items = p.tuple(p.root()).unwrap();
//! assert_eq!(items[0], Value::Int(1));
//! assert_eq!(p.str(&items[1]), Some("ab"));
//! assert!(matches!(p.node(p.root()), Some(Node::Tuple(_))));
//! ```

pub mod decode;
mod machine;
mod vm;

use std::fmt;

/// Index of a [`Node`] in a [`Pickle`]'s arena.
pub type NodeId = usize;

/// A pickled value: a scalar, or a reference to a node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// Python `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits (larger ones are refused).
    Int(i64),
    /// A float.
    Float(f64),
    /// A value with identity, in the arena.
    Ref(NodeId),
}

/// A value with identity, stored in the arena.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Python 2 `str` / Python 3 `bytes`.
    Bytes(Vec<u8>),
    /// Python `unicode` / `str`.
    Str(String),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// Key-value pairs in insertion order (a later equal key is not merged).
    Dict(Vec<(Value, Value)>),
    /// A class or function named by `GLOBAL`; never imported.
    Global {
        /// Module path, e.g. `numpy.core.multiarray`.
        module: String,
        /// Name in the module, e.g. `_reconstruct`.
        name: String,
    },
    /// What Python would have built by calling `class(*args)` then `BUILD(state)`, plus any
    /// items set or appended on it afterwards (a `defaultdict`'s entries, a list subclass's items).
    Object {
        /// The callable (usually a [`Node::Global`]).
        class: Value,
        /// Its arguments.
        args: Vec<Value>,
        /// The `BUILD` state, if any.
        state: Option<Value>,
        /// Entries set with `SETITEM(S)`.
        items: Vec<(Value, Value)>,
        /// Items added with `APPEND(S)`.
        list: Vec<Value>,
    },
}

/// Why a pickle could not be read: the byte offset of the failing opcode and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PickleError {
    /// Byte offset of the opcode that failed.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pickle error at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PickleError {}

/// A parsed pickle: the arena of nodes and the root value `STOP` returned.
#[derive(Clone, Debug)]
pub struct Pickle {
    nodes: Vec<Node>,
    root: Value,
    input_len: usize,
}

impl Pickle {
    /// Runs the pickle machine over `bytes`. Nothing is imported or executed.
    pub fn parse(bytes: &[u8]) -> Result<Pickle, PickleError> {
        machine::Machine::new(bytes).run()
    }

    /// The value the pickle evaluates to.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The node a value refers to (`None` for scalars and dangling references).
    pub fn node(&self, value: &Value) -> Option<&Node> {
        match value {
            Value::Ref(id) => self.nodes.get(*id),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn tuple(&self, value: &Value) -> Option<&[Value]> {
        match self.node(value)? {
            Node::Tuple(items) | Node::List(items) => Some(items),
            _ => None,
        }
    }

    /// A unicode string, or a byte string that is valid UTF-8 (Python 2 `str`).
    pub fn str(&self, value: &Value) -> Option<&str> {
        match self.node(value)? {
            Node::Str(s) => Some(s),
            Node::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// Raw bytes: a byte string, or Python 3's encoding of Python-2 bytes,
    /// `_codecs.encode(text, 'latin1')`, recorded as an object.
    pub fn bytes(&self, value: &Value) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self.node(value)? {
            Node::Bytes(b) => Some(std::borrow::Cow::Borrowed(b)),
            Node::Object { class, args, .. } if self.is_global(class, &["_codecs"], &["encode"]) => {
                let text = match self.node(args.first()?)? {
                    Node::Str(s) => s,
                    _ => return None,
                };
                let encoding = args.get(1).and_then(|e| self.str(e)).unwrap_or("utf-8");
                if encoding.eq_ignore_ascii_case("latin1") || encoding.eq_ignore_ascii_case("latin-1") {
                    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>().map(Into::into)
                } else {
                    Some(text.as_bytes().to_vec().into())
                }
            }
            _ => None,
        }
    }

    /// The class name `(module, name)` of a global or of the class of an object.
    pub fn class_of(&self, value: &Value) -> Option<(&str, &str)> {
        match self.node(value)? {
            Node::Global { module, name } => Some((module, name)),
            Node::Object { class, .. } => match self.node(class)? {
                Node::Global { module, name } => Some((module, name)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether `value` is a global whose module is one of `modules` and name one of `names`.
    pub fn is_global(&self, value: &Value, modules: &[&str], names: &[&str]) -> bool {
        matches!(self.node(value), Some(Node::Global { module, name })
            if modules.contains(&module.as_str()) && names.contains(&name.as_str()))
    }

    /// The entries of a dict, or of a dict-like object (`defaultdict`, `OrderedDict`).
    pub fn dict_items(&self, value: &Value) -> Option<&[(Value, Value)]> {
        match self.node(value)? {
            Node::Dict(items) => Some(items),
            Node::Object { items, .. } => Some(items),
            _ => None,
        }
    }

    /// Looks a string key up in a dict (keys may be byte or unicode strings).
    pub fn dict_get(&self, value: &Value, key: &str) -> Option<&Value> {
        self.dict_items(value)?.iter().find(|(k, _)| self.str(k) == Some(key)).map(|(_, v)| v)
    }

    /// Number of nodes in the arena.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// How many elements a decoder may produce from this pickle: 16 per input byte plus a fixed
    /// allowance. A memoised list or string referenced a million times costs two bytes per
    /// reference in the file but a full copy each in a decoded result; decoders stop there
    /// instead of exhausting memory.
    pub fn decode_budget(&self) -> usize {
        self.input_len.saturating_mul(16).saturating_add(1 << 20)
    }
}
