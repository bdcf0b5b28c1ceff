//! `guard_traits!`: the traits every lock guard of both families has, as
//! std's and tokio's guards have them.

/// `Deref` (and `DerefMut`, with `mut`), `Debug` and `Display` for a guard,
/// through its field that derefs to the value, as std's and tokio's guards
/// have them.
macro_rules! guard_traits {
    ($guard:ident<$($lt:lifetime,)? $($param:ident),+> => $target:ident, $field:ident, mut) => {
        guard_traits!($guard<$($lt,)? $($param),+> => $target, $field);
        impl<$($param: ?Sized),+> ::std::ops::DerefMut for $guard<$($lt,)? $($param),+> {
            fn deref_mut(&mut self) -> &mut $target {
                &mut self.$field
            }
        }
    };
    ($guard:ident<$($lt:lifetime,)? $($param:ident),+> => $target:ident, $field:ident) => {
        impl<$($param: ?Sized),+> ::std::ops::Deref for $guard<$($lt,)? $($param),+> {
            type Target = $target;
            fn deref(&self) -> &$target {
                &self.$field
            }
        }
        impl<$($param: ?Sized),+> ::std::fmt::Debug for $guard<$($lt,)? $($param),+>
        where
            $target: ::std::fmt::Debug,
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<$($param: ?Sized),+> ::std::fmt::Display for $guard<$($lt,)? $($param),+>
        where
            $target: ::std::fmt::Display,
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}
