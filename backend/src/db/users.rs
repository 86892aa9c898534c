//! Queries on `users`.

use diesel::prelude::*;

use super::Conn;
use super::schema::users;

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

/// A user to insert: registration, the admin command line and the Flask import.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub username_skeleton: Option<&'a str>,
    pub password_hash: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts a user and returns it. The unique indexes on `username_key` and `username_skeleton`
/// decide races: the loser gets a unique violation (see [`super::is_unique_violation`]).
pub fn insert(conn: &mut Conn, user: &NewUser<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    users::table
        .filter(users::username_key.eq(user.username_key))
        .select(UserRow::as_select())
        .get_result(conn)
}

/// Whether a name is taken: by its key, or by a name that looks the same (its skeleton).
pub fn name_taken(conn: &mut Conn, username_key: &str, skeleton: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(
            users::username_key
                .eq(username_key)
                .or(users::username_skeleton.eq(skeleton)),
        ),
    ))
    .get_result(conn)
}

/// The user whose name looks like one with this skeleton, if any.
pub fn find_by_skeleton(conn: &mut Conn, skeleton: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username_skeleton.eq(skeleton))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
}

/// Up to `limit` users after `after_id` whose skeleton is not filled in yet (rows from before
/// it existed), by id.
pub fn without_skeleton(
    conn: &mut Conn,
    after_id: i32,
    limit: i64,
) -> QueryResult<Vec<(i32, String)>> {
    users::table
        .filter(users::username_skeleton.is_null())
        .filter(users::id.gt(after_id))
        .order(users::id.asc())
        .limit(limit)
        .select((users::id, users::username_key))
        .load(conn)
}

pub fn set_skeleton(conn: &mut Conn, id: i32, skeleton: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::username_skeleton.eq(skeleton))
        .execute(conn)
        .map(|_| ())
}

pub fn find_credentials(conn: &mut Conn, username_key: &str) -> QueryResult<Option<Credentials>> {
    users::table
        .filter(users::username_key.eq(username_key))
        .select(Credentials::as_select())
        .get_result(conn)
        .optional()
}

pub fn find_credentials_by_id(conn: &mut Conn, id: i32) -> QueryResult<Option<Credentials>> {
    users::table
        .find(id)
        .select(Credentials::as_select())
        .get_result(conn)
        .optional()
}

/// Replaces a hash only if it is still `old_hash`, so that a transparent rehash on login never
/// overwrites a password changed meanwhile. Returns whether the row changed.
pub fn replace_hash(
    conn: &mut Conn,
    id: i32,
    old_hash: &str,
    new_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(old_hash)),
    )
    .set((users::password_hash.eq(new_hash), users::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Sets a new hash unconditionally (a password change, an administrator's reset); returns
/// whether the user exists.
pub fn set_hash(conn: &mut Conn, id: i32, new_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(new_hash), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Every user, oldest first (the admin command line's list).
pub fn list(conn: &mut Conn) -> QueryResult<Vec<UserRow>> {
    users::table
        .order(users::id.asc())
        .select(UserRow::as_select())
        .load(conn)
}

/// Deletes a user; their sessions and events go with them (`ON DELETE CASCADE`). Returns
/// whether a row was deleted.
pub fn delete_by_id(conn: &mut Conn, id: i32) -> QueryResult<bool> {
    diesel::delete(users::table.find(id))
        .execute(conn)
        .map(|n| n == 1)
}
