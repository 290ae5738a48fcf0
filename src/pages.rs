//! Listings as streams: the one pager every vendor's listings share. The
//! vendor fetches the page at a cursor and names the next cursor (its own
//! end-of-listing rule); a page is fetched only once the previous one is
//! consumed, and the first error ends the stream.

use crate::Result;
use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use std::future::Future;

/// The items of every page from `first` on: `fetch(cursor)` gives a page's
/// items and the next cursor.
pub(crate) fn pages<C, T, F, Fut>(first: C, fetch: F) -> BoxStream<'static, Result<T>>
where
    C: Send + 'static,
    T: Send + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<C>)>> + Send + 'static,
{
    stream::try_unfold((Some(first), fetch), |(cursor, mut fetch)| async move {
        let Some(cursor) = cursor else {
            return Ok::<_, crate::Error>(None);
        };
        let (items, next) = fetch(cursor).await?;
        Ok(Some((
            stream::iter(items.into_iter().map(Ok)),
            (next, fetch),
        )))
    })
    .try_flatten()
    .boxed()
}
