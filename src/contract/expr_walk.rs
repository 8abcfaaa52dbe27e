//! The check of an expression against the contract's declarations: a walk
//! over its tree that collects what it reads and calls, and refuses what the
//! place it is written in may not read, each refusal at its offset.

use cel::common::ast::{EntryExpr, Expr as Node, IdedExpr, LiteralValue};

use super::{Declared, ExprError, FROM_CEL, OURS};

pub(super) struct Walk<'a> {
    pub(super) source: &'a str,
    pub(super) program: &'a cel::Program,
    pub(super) declared: &'a Declared<'a>,
    /// Each HRIS field read, with the place of a contract field that copies it.
    pub(super) reads: Vec<(String, usize)>,
    pub(super) reads_before: Vec<(String, usize)>,
    pub(super) reads_lms: Vec<Vec<String>>,
    pub(super) reads_statement: Vec<Vec<String>>,
    pub(super) calls: Vec<&'static str>,
}

impl Walk<'_> {
    /// The byte offset in the source where a node was written (the parser
    /// counts bytes).
    fn offset(&self, node: &IdedExpr) -> usize {
        let start = self
            .program
            .source_info()
            .offset_for(node.id)
            .map_or(0, |(start, _)| start);
        let mut at = (start as usize).min(self.source.len());
        while !self.source.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn error(&self, node: &IdedExpr, message: String) -> Result<(), ExprError> {
        Err(ExprError {
            offset: self.offset(node),
            message,
        })
    }

    /// `lms.a.b` or `statement.a.b`: the root and the path of names under it,
    /// if the node is one.
    fn json_path(node: &IdedExpr) -> Option<(&'static str, Vec<String>)> {
        match &node.expr {
            Node::Select(select) => match &select.operand.expr {
                Node::Ident(root) => ["lms", "statement"]
                    .into_iter()
                    .find(|r| r == root)
                    .map(|root| (root, vec![select.field.clone()])),
                _ => {
                    let (root, mut path) = Self::json_path(&select.operand)?;
                    path.push(select.field.clone());
                    Some((root, path))
                }
            },
            _ => None,
        }
    }

    /// The innermost operand of a chain of selections: where `lms.a.b` begins.
    fn root_of(node: &IdedExpr) -> &IdedExpr {
        match &node.expr {
            Node::Select(select) => Self::root_of(&select.operand),
            _ => node,
        }
    }

    pub(super) fn node(&mut self, node: &IdedExpr) -> Result<(), ExprError> {
        if let Some((root, path)) = Self::json_path(node) {
            // A mistake is shown where the path begins.
            let node = Self::root_of(node);
            let reads = match root {
                "lms" if self.declared.trigger => &mut self.reads_lms,
                "lms" => {
                    return self.error(
                        node,
                        "lms.<path> is the learner as the LMS holds it: only a trigger's condition reads it \
                         (a field and a scope rule are decided from the HRIS record)"
                            .into(),
                    );
                }
                _ if self.declared.statement => &mut self.reads_statement,
                _ => {
                    return self.error(
                        node,
                        "statement.<path> is the xAPI statement: only a [writeback] expression reads it"
                            .into(),
                    );
                }
            };
            if !reads.contains(&path) {
                reads.push(path);
            }
            return Ok(());
        }
        match &node.expr {
            Node::Ident(name) if name == "today" => Ok(()),
            Node::Ident(name) if name == "reports" && self.declared.reports => Ok(()),
            Node::Ident(name) if name == "reports" => self.error(
                node,
                "reports (how many employees name this one in [lifecycle] manager_field) is read only \
                 in a trigger's condition, in a contract with a manager_field"
                    .into(),
            ),
            Node::Ident(name) if name == "hris" => self.error(
                node,
                "`hris` is the record: name one of its fields, as hris.firstName".into(),
            ),
            Node::Ident(name) if name == "before" => self.error(
                node,
                "`before` is the previous record: name one of its fields, as before.location".into(),
            ),
            Node::Ident(name) if name == "statement" => self.error(
                node,
                "`statement` is the xAPI statement: name one of its attributes, as statement.result.duration"
                    .into(),
            ),
            Node::Ident(name) if name == "lms" => self.error(
                node,
                "`lms` is the learner: name one of its attributes, as lms.active or lms.name.givenName".into(),
            ),
            Node::Ident(name) => self.error(
                node,
                format!("unknown name `{name}`: an expression reads hris.<field> and today (a trigger's condition before.<field>, lms.<path> and reports too)"),
            ),
            Node::Select(select) => match &select.operand.expr {
                Node::Ident(root) if (root == "hris" || root == "before") && self.declared.statement => self.error(
                    node,
                    format!("{root}.<field> is an HRIS record: a [writeback] expression reads the statement (statement.<path>)"),
                ),
                Node::Ident(root) if root == "before" && !self.declared.trigger => self.error(
                    node,
                    "before.<field> is the previous record: only a trigger's condition reads it".into(),
                ),
                Node::Ident(root) if root == "hris" || root == "before" => {
                    let field = &select.field;
                    let declared = (self.declared.hris_fields.iter()).position(|f| *f == Some(field.as_str()));
                    let Some(rule) = declared else {
                        // The node sits at the dot; the field's name follows it.
                        let offset = self.offset(node);
                        let after = self.source[offset..]
                            .find(field.as_str())
                            .map_or(offset, |i| offset + i);
                        return Err(ExprError {
                            offset: after,
                            message: format!(
                                "{root}.{field} is not an HRIS field the contract reads (a [[field]]'s `hris`)"
                            ),
                        });
                    };
                    let reads = if root == "before" {
                        &mut self.reads_before
                    } else {
                        &mut self.reads
                    };
                    if !reads.iter().any(|(read, _)| read == field) {
                        reads.push((field.clone(), rule));
                    }
                    Ok(())
                }
                _ => self.error(
                    node,
                    format!("`.{}` reads a field of something other than hris, before or lms", select.field),
                ),
            },
            Node::Call(call) => {
                let name = call.func_name.as_str();
                // `_+_`, `!_`, `-_`, `@in` (`key in map`): CEL's operators.
                let operator = name.starts_with(['_', '!', '-', '@']);
                if let Some(&ours) = OURS.iter().find(|&&f| f == name) {
                    if call.target.is_some() {
                        return self.error(
                            node,
                            format!("{name} is called as {name}(value), not value.{name}()"),
                        );
                    }
                    if !self.calls.contains(&ours) {
                        self.calls.push(ours);
                    }
                    if ours == "lookup" {
                        self.lookup(node, &call.args)?;
                    }
                } else if !operator && !FROM_CEL.contains(&name) {
                    let known = OURS
                        .iter()
                        .chain(FROM_CEL)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    return self.error(node, format!("unknown function `{name}` (known: {known})"));
                }
                if let Some(target) = &call.target {
                    self.node(target)?;
                }
                call.args.iter().try_for_each(|arg| self.node(arg))
            }
            Node::Literal(_) => Ok(()),
            Node::List(list) => list.elements.iter().try_for_each(|e| self.node(e)),
            Node::Map(map) => map.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => self.node(&e.key).and_then(|()| self.node(&e.value)),
                EntryExpr::StructField(f) => self.node(&f.value),
            }),
            Node::Comprehension(_) | Node::Struct(_) | Node::Unspecified => self.error(
                node,
                "only values, hris fields, functions and operators are allowed here".into(),
            ),
        }
    }

    /// `lookup(table, key)`: the table is named by a literal, and exists.
    fn lookup(&mut self, node: &IdedExpr, args: &[IdedExpr]) -> Result<(), ExprError> {
        let [table, _key] = args else {
            return self.error(
                node,
                "lookup takes a value table's name and a key: lookup(\"table\", key)".into(),
            );
        };
        let Node::Literal(LiteralValue::String(name)) = &table.expr else {
            return self.error(
                table,
                "lookup's first argument is a value table's name, in quotes".into(),
            );
        };
        let name: &str = name.inner();
        if !self.declared.tables.contains_key(name) {
            let known = self
                .declared
                .tables
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            return self.error(
                table,
                format!("lookup: no value table \"{name}\" under [values] (there are: {known})"),
            );
        }
        Ok(())
    }
}
