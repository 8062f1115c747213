pub mod deepwalk;
