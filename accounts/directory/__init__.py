"""Enterprise directory (docs/directory.md): group mapping shared by every
source, the LDAP / Active Directory backend, its connection test, the
scheduled sync and deactivation. Importing this package loads no models, so
settings may import ``accounts.directory.config``."""
