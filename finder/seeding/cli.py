import click
@click.command("seed")
def seed_command():
    pass
