//! Connection strings (`mongodb://` and `mongodb+srv://`) and URI options, pure.
