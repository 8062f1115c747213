//! The pickle machine's opcode dispatch.
//!
//! Supported opcodes: the binary ones of protocols 1-4 that build data (`PROTO`, `FRAME`, `STOP`,
//! `MARK`, `POP`, `POP_MARK`, `DUP`, `NONE`, `NEWTRUE`, `NEWFALSE`, `BININT*`, `LONG1`, `LONG4`,
//! `BINFLOAT`, `*BINSTRING`, `*BINBYTES*`, `*BINUNICODE*`, tuples, lists, dicts, `GLOBAL`,
//! `STACK_GLOBAL`, `REDUCE`, `NEWOBJ`, `BUILD`, `*BINPUT`, `MEMOIZE`, `*BINGET`). Text-mode
//! protocol-0 opcodes, sets, persistent ids and extension registries are refused.

use super::machine::Machine;
use super::{Node, Pickle, PickleError, Value};

impl Machine<'_> {
    /// Executes opcodes until `STOP`.
    pub(super) fn run(mut self) -> Result<Pickle, PickleError> {
        loop {
            self.op_pos = self.pos;
            if self.pos >= self.input.len() {
                return self.err("truncated: ended before STOP");
            }
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return self.err(format!("unsupported protocol {proto}"));
                    }
                }
                0x95 => {
                    self.u64()?; // FRAME: a length hint only
                }
                b'.' => {
                    let root = self.pop()?;
                    return Ok(Pickle { nodes: self.nodes, root, input_len: self.input.len() });
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?;
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.stack.push(Value::Int(u16::from_le_bytes([b[0], b[1]]).into()));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    self.long(n)?;
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    self.long(n)?;
                }
                b'G' => {
                    let b = self.take(8)?;
                    self.stack.push(Value::Float(f64::from_be_bytes(b.try_into().expect("8 bytes"))));
                }
                b'T' => {
                    let n = self.u32()? as i32;
                    let n = usize::try_from(n).or_else(|_| self.err("negative string length"))?;
                    self.text(n, false)?;
                }
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    self.text(n, false)?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.text(n, false)?;
                }
                0x8e => {
                    let n = self.len_u64()?;
                    self.text(n, false)?;
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    self.text(n, true)?;
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    self.text(n, true)?;
                }
                0x8d => {
                    let n = self.len_u64()?;
                    self.text(n, true)?;
                }
                b')' => self.push_node(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let items = self.pop_n((op - 0x84) as usize)?;
                    self.push_node(Node::Tuple(items));
                }
                b']' => self.push_node(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    let target = self.top()?;
                    self.append(target, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    self.append(target, items)?;
                }
                b'}' => self.push_node(Node::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let dict = self.alloc(Node::Dict(Vec::new()));
                    self.set_items(dict, items)?;
                    self.stack.push(dict);
                }
                b's' => {
                    let pair = self.pop_n(2)?;
                    let target = self.top()?;
                    self.set_items(target, pair)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    self.set_items(target, items)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push_node(Node::Global { module, name });
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (self.string_of(module)?, self.string_of(name)?);
                    self.push_node(Node::Global { module, name });
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let args = self.tuple_items(args, if op == b'R' { "REDUCE" } else { "NEWOBJ" })?;
                    self.push_node(Node::Object { class, args, state: None, items: Vec::new(), list: Vec::new() });
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    match self.node_mut(target)? {
                        Node::Object { state: slot, .. } => *slot = Some(state),
                        _ => return self.err("BUILD on something that is not an object"),
                    }
                }
                b'q' => {
                    let key = self.u8()?.into();
                    self.memo_put(key)?;
                }
                b'r' => {
                    let key = self.u32()?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len()).or_else(|_| self.err("memo full"))?;
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = self.u8()?.into();
                    self.memo_get(key)?;
                }
                b'j' => {
                    let key = self.u32()?;
                    self.memo_get(key)?;
                }
                other => {
                    return self.err(format!("unsupported opcode {other:#04x} ({:?})", other as char));
                }
            }
        }
    }
}
