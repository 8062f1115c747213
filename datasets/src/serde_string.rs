//! Serde for a spec type written as one string: its `Display` form out, its `FromStr` form in,
//! so that a report or a `--config` file holds `"per-class:20,30"` rather than a tagged enum.
//! A string that does not parse is refused with the type's own `FromStr` message.

/// Implements `Serialize` (through `Display`) and `Deserialize` (through `FromStr`, whose error
/// must be `Display`) for each type named.
///
/// ```
/// use std::fmt;
/// #[derive(Debug, PartialEq)]
/// struct Width(u32);
/// impl fmt::Display for Width {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "w{}", self.0) }
/// }
/// impl std::str::FromStr for Width {
///     type Err = String;
///     fn from_str(s: &str) -> Result<Self, String> {
///         s.strip_prefix('w').and_then(|n| n.parse().ok()).map(Width).ok_or(format!("not a width: {s}"))
///     }
/// }
/// gdistill_datasets::serde_as_string!(Width);
/// assert_eq!(serde_json::to_string(&Width(7)).unwrap(), "\"w7\"");
/// assert_eq!(serde_json::from_str::<Width>("\"w7\"").unwrap(), Width(7));
/// assert!(serde_json::from_str::<Width>("\"7\"").unwrap_err().to_string().contains("not a width: 7"));
/// ```
#[macro_export]
macro_rules! serde_as_string {
    ($($ty:ty),+ $(,)?) => {$(
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    )+};
}
