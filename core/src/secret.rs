//! Key material that zeroizes on drop and never prints its contents. (Issue 4.)
