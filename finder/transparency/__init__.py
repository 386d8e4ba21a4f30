"""The public "Where do calls go?" notice and the helpline numbers public pages show."""
