//! Placeholder: this crate's owner replaces this file.
