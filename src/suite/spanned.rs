//! A value with the place it is written in its suite (line and column): what a failed
//! expectation points at. The loader's deserializer fills the place (`load::de`, which knows
//! every node's position); the value behaves as the value (`Deref`, equality and order by
//! value, the same JSON Schema), so a typed expectation carries its own position.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::{Borrow, Cow};
use std::fmt;

/// The struct name and fields a `Spanned` asks its deserializer for; the loader's answers
/// with the node's line, column and value.
pub(crate) const NAME: &str = "$hxrun::Spanned";
pub(crate) const LINE: &str = "$hxrun::line";
pub(crate) const COL: &str = "$hxrun::col";
pub(crate) const VALUE: &str = "$hxrun::value";
const FIELDS: &[&str] = &[LINE, COL, VALUE];

/// A line and column in a suite file, 1-based; line 0 where the value was not written (a
/// default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) col: u32,
}

impl Pos {
    pub(crate) fn known(self) -> Option<Pos> {
        (self.line > 0).then_some(self)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    /// Where it is written (for a map's key: where the key is).
    pub(crate) at: Pos,
}

impl<T> Spanned<T> {
    /// A value written nowhere (a default).
    pub(crate) fn unplaced(value: T) -> Self {
        Spanned { value, at: Pos::default() }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Ord> PartialOrd for Spanned<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Spanned<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

/// A map keyed by written names is looked up by name.
impl Borrow<str> for Spanned<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value of a suite")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let (mut line, mut col, mut value) = (0, 0, None);
                while let Some(key) = map.next_key::<Cow<'_, str>>()? {
                    match key.as_ref() {
                        LINE => line = map.next_value()?,
                        COL => col = map.next_value()?,
                        VALUE => value = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field(VALUE))?;
                Ok(Spanned { value, at: Pos { line, col } })
            }
        }
        d.deserialize_struct(NAME, FIELDS, V(std::marker::PhantomData))
    }
}

/// The value's schema: a place is not written, it is where the value is.
impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
