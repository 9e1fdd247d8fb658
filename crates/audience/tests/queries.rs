//! The admin API's questions.
