//! The pickle machine's state and primitives: input cursor, stack with marks, memo, node arena.
//!
//! Every primitive checks its bounds and returns a [`PickleError`] at the current opcode's
//! offset instead of panicking; the opcode dispatch lives in `vm.rs`.

use std::collections::HashMap;

use super::{Node, PickleError, Value};

/// The state of one run over one input.
pub(super) struct Machine<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
    /// Offset of the opcode being executed (for error messages).
    pub(super) op_pos: usize,
    pub(super) stack: Vec<Value>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: HashMap<u32, Value>,
    pub(super) nodes: Vec<Node>,
    /// Bytes of values copied so far (tuples cloned by `REDUCE`/`NEWOBJ`, strings by
    /// `STACK_GLOBAL`); see [`Machine::charge`].
    copied: usize,
}

/// How many bytes of copies one input byte may cause, beyond a fixed allowance: a memoised
/// object can be referenced many times for two bytes each, so copying it on every reference
/// would let a small file demand unbounded memory.
const COPY_FACTOR: usize = 16;
const COPY_ALLOWANCE: usize = 1 << 20;

impl<'a> Machine<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Machine {
            input,
            pos: 0,
            op_pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            nodes: Vec::new(),
            copied: 0,
        }
    }

    /// Accounts for `bytes` of copied data; refuses once copies exceed
    /// `COPY_FACTOR * input + COPY_ALLOWANCE` (a few memo references to one object cost little;
    /// millions of them are an amplification attack, not a numpy file).
    pub(super) fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.copied = self.copied.saturating_add(bytes);
        let limit = self.input.len().saturating_mul(COPY_FACTOR).saturating_add(COPY_ALLOWANCE);
        if self.copied > limit {
            return self
                .err(format!("copies of memoised objects exceed {limit} bytes for a {}-byte input", self.input.len()));
        }
        Ok(())
    }

    pub(super) fn err<T>(&self, message: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError { offset: self.op_pos, message: message.into() })
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.input.len() => {
                let bytes = &self.input[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            _ => self.err(format!("truncated: needs {n} more bytes, {} left", self.input.len() - self.pos)),
        }
    }

    pub(super) fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub(super) fn len_u64(&mut self) -> Result<usize, PickleError> {
        let n = self.u64()?;
        usize::try_from(n).or_else(|_| self.err(format!("length {n} too large")))
    }

    pub(super) fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.input[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("truncated: unterminated line");
        };
        let text = std::str::from_utf8(&rest[..end]).or_else(|_| self.err("line is not UTF-8"))?.to_string();
        self.pos += end + 1;
        Ok(text)
    }

    pub(super) fn alloc(&mut self, node: Node) -> Value {
        self.nodes.push(node);
        Value::Ref(self.nodes.len() - 1)
    }

    pub(super) fn push_node(&mut self, node: Node) {
        let v = self.alloc(node);
        self.stack.push(v);
    }

    pub(super) fn pop(&mut self) -> Result<Value, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.err("stack underflow");
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    pub(super) fn top(&self) -> Result<Value, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.err("stack underflow");
        }
        Ok(*self.stack.last().expect("checked non-empty"))
    }

    pub(super) fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        match self.marks.pop() {
            Some(m) => Ok(self.stack.split_off(m)),
            None => self.err("no MARK on the stack"),
        }
    }

    pub(super) fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, PickleError> {
        let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    pub(super) fn node_mut(&mut self, v: Value) -> Result<&mut Node, PickleError> {
        match v {
            Value::Ref(id) if id < self.nodes.len() => Ok(&mut self.nodes[id]),
            other => self.err(format!("expected a container, found {other:?}")),
        }
    }

    pub(super) fn tuple_items(&mut self, v: Value, what: &str) -> Result<Vec<Value>, PickleError> {
        let len = match v {
            Value::Ref(id) => match self.nodes.get(id) {
                Some(Node::Tuple(items)) => items.len(),
                _ => return self.err(format!("{what}: expected a tuple")),
            },
            _ => return self.err(format!("{what}: expected a tuple")),
        };
        self.charge(len.saturating_mul(std::mem::size_of::<Value>()))?;
        match v {
            Value::Ref(id) => match &self.nodes[id] {
                Node::Tuple(items) => Ok(items.clone()),
                _ => self.err(format!("{what}: expected a tuple")),
            },
            _ => self.err(format!("{what}: expected a tuple")),
        }
    }

    pub(super) fn string_of(&mut self, v: Value) -> Result<String, PickleError> {
        let len = match v {
            Value::Ref(id) => match self.nodes.get(id) {
                Some(Node::Str(s)) => s.len(),
                Some(Node::Bytes(b)) => b.len(),
                _ => return self.err("expected a string"),
            },
            _ => return self.err("expected a string"),
        };
        self.charge(len)?;
        match v {
            Value::Ref(id) => match &self.nodes[id] {
                Node::Str(s) => Ok(s.clone()),
                Node::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
                _ => self.err("expected a string"),
            },
            _ => self.err("expected a string"),
        }
    }

    pub(super) fn set_items(&mut self, target: Value, pairs: Vec<Value>) -> Result<(), PickleError> {
        if !pairs.len().is_multiple_of(2) {
            return self.err("odd number of items for SETITEMS");
        }
        let pairs: Vec<(Value, Value)> = pairs.chunks_exact(2).map(|c| (c[0], c[1])).collect();
        match self.node_mut(target)? {
            Node::Dict(items) | Node::Object { items, .. } => items.extend(pairs),
            _ => return self.err("SETITEM(S) on something that is not a dict"),
        }
        Ok(())
    }

    pub(super) fn append(&mut self, target: Value, values: Vec<Value>) -> Result<(), PickleError> {
        match self.node_mut(target)? {
            Node::List(items) | Node::Object { list: items, .. } => items.extend(values),
            _ => return self.err("APPEND(S) on something that is not a list"),
        }
        Ok(())
    }

    pub(super) fn text(&mut self, n: usize, unicode: bool) -> Result<(), PickleError> {
        let raw = self.take(n)?;
        let node = if unicode {
            Node::Str(std::str::from_utf8(raw).or_else(|_| self.err("invalid UTF-8 in unicode string"))?.to_string())
        } else {
            Node::Bytes(raw.to_vec())
        };
        self.push_node(node);
        Ok(())
    }

    pub(super) fn long(&mut self, n: usize) -> Result<(), PickleError> {
        let raw = self.take(n)?;
        if n > 8 {
            return self.err(format!("integer of {n} bytes does not fit 64 bits"));
        }
        let value = if n == 0 {
            0
        } else {
            let fill = if raw[n - 1] & 0x80 != 0 { 0xff } else { 0 };
            let mut b = [fill; 8];
            b[..n].copy_from_slice(raw);
            i64::from_le_bytes(b)
        };
        self.stack.push(Value::Int(value));
        Ok(())
    }

    pub(super) fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        match self.memo.get(&key) {
            Some(&v) => {
                self.stack.push(v);
                Ok(())
            }
            None => self.err(format!("memo key {key} was never stored")),
        }
    }

    pub(super) fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let v = self.top()?;
        self.memo.insert(key, v);
        Ok(())
    }
}
