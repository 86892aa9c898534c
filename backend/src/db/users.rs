//! Queries on `users`.

use diesel::prelude::*;

use super::schema::users;
use super::{Conn, is_unique_violation, now, write_transaction};

/// What the API shows of a user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i32,
    pub username: String,
    pub created_at: i64,
}

/// A user with the stored hash, for password checks.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Credentials {
    pub id: i32,
    pub username: String,
    pub created_at: i64,
    pub password_hash: String,
}

impl Credentials {
    pub fn user(&self) -> UserRow {
        UserRow {
            id: self.id,
            username: self.username.clone(),
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    username: &'a str,
    username_key: &'a str,
    password_hash: &'a str,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Inserts a user. The unique index on `username_key` decides races: the loser gets
/// [`InsertUserError::UsernameTaken`].
pub fn insert(
    conn: &mut Conn,
    username: &str,
    username_key: &str,
    password_hash: &str,
) -> Result<UserRow, InsertUserError> {
    let at = now();
    let row = NewUser {
        username,
        username_key,
        password_hash,
        created_at: at,
        updated_at: at,
    };
    write_transaction(conn, |conn| {
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)?;
        users::table
            .filter(users::username_key.eq(username_key))
            .select(UserRow::as_select())
            .first(conn)
    })
    .map_err(|err| {
        if is_unique_violation(&err) {
            InsertUserError::UsernameTaken
        } else {
            InsertUserError::Database(err)
        }
    })
}

pub fn find_by_id(conn: &mut Conn, id: i32) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn key_exists(conn: &mut Conn, username_key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username_key.eq(username_key)),
    ))
    .get_result(conn)
}

pub fn find_credentials(conn: &mut Conn, username_key: &str) -> QueryResult<Option<Credentials>> {
    users::table
        .filter(users::username_key.eq(username_key))
        .select(Credentials::as_select())
        .first(conn)
        .optional()
}

/// Replaces a hash only if it is still `old_hash`, so that a transparent rehash on login never
/// overwrites a password changed meanwhile. Returns whether the row changed.
pub fn replace_hash(conn: &mut Conn, id: i32, old_hash: &str, new_hash: &str) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(old_hash)),
    )
    .set((
        users::password_hash.eq(new_hash),
        users::updated_at.eq(now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn find_credentials_by_id(conn: &mut Conn, id: i32) -> QueryResult<Option<Credentials>> {
    users::table
        .find(id)
        .select(Credentials::as_select())
        .first(conn)
        .optional()
}

/// Every user, oldest first (the admin CLI's list).
pub fn list(conn: &mut Conn) -> QueryResult<Vec<UserRow>> {
    users::table
        .order(users::id.asc())
        .select(UserRow::as_select())
        .load(conn)
}

/// Deletes a user; their sessions go with them (`ON DELETE CASCADE`). Returns whether a row
/// was deleted.
pub fn delete_by_id(conn: &mut Conn, id: i32) -> QueryResult<bool> {
    diesel::delete(users::table.find(id))
        .execute(conn)
        .map(|n| n == 1)
}

/// Sets a new hash unconditionally (a password change, an administrator's reset); returns
/// whether the user exists.
pub fn set_hash(conn: &mut Conn, id: i32, new_hash: &str) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(new_hash),
            users::updated_at.eq(now()),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Inserts a user inside the caller's transaction (a bulk import); unlike [`insert`] it opens
/// none of its own.
pub fn insert_imported(
    conn: &mut Conn,
    username: &str,
    username_key: &str,
    password_hash: &str,
    at: i64,
) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(&NewUser {
            username,
            username_key,
            password_hash,
            created_at: at,
            updated_at: at,
        })
        .execute(conn)
        .map(|_| ())
}
