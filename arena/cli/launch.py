"""``arena launch EXPERIMENT --slurm``: train an existing experiment as a Slurm job (or ``--local``)."""

from __future__ import annotations

import click

from arena.cli import cli


@cli.command("launch")
@click.argument("experiment")
@click.argument("train_options", nargs=-1, type=click.UNPROCESSED, metavar="[-- TRAIN_OPTIONS...]")
@click.option("--slurm", "where", flag_value="slurm", help="Submit the training as a Slurm job (through submitit).")
@click.option("--local", "where", flag_value="local", help="Run the same job here, in the foreground.")
@click.option("--nodes", type=int, default=1, show_default=True, help="Nodes; more than one trains on Ray across them.")
@click.option("--gpus", type=int, default=0, show_default=True, help="GPUs per node (the learner uses the first node's).")
@click.option("--cpus", type=int, default=None, help="CPUs per node [default: whole nodes (--exclusive)].")
@click.option("--partition", default=None, help="Slurm partition [default: the cluster's default].")
@click.option("--qos", default=None, help="Slurm quality of service.")
@click.option(
    "--time", "time_limit", default=None, metavar="TIME", help="Time limit: minutes, H:MM:SS or D-HH:MM:SS [default: 60]."
)
@click.option(
    "--sbatch",
    "sbatch_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Another sbatch option, e.g. --sbatch account=rl (repeatable).",
)
@click.option("--steps", type=int, default=None, help="Total agent steps to train to, counting those already trained.")
@click.option("--workers", "-w", type=int, default=None, help="Rollout workers in all [default: the job's CPUs].")
@click.option("--dry-run", is_flag=True, help="Print the sbatch script that would be submitted and change nothing.")
@click.option("--status", is_flag=True, help="Say how the experiment's recorded job stands.")
@click.option("--cancel", is_flag=True, help="Cancel the experiment's recorded job.")
def launch_command(
    experiment,
    train_options,
    where,
    nodes,
    gpus,
    cpus,
    partition,
    qos,
    time_limit,
    sbatch_options,
    steps,
    workers,
    dry_run,
    status,
    cancel,
) -> None:
    """Train EXPERIMENT (a name in experiments/, or a folder) as a Slurm job, resuming from its
    newest snapshot: the job reruns `arena train` with the settings in its params.json.

    One node trains with local worker processes; more nodes start a Ray head beside the learner
    on the first node and Ray workers on the others. Options after -- go to `arena train`.
    The job is recorded in EXPERIMENT/launch.json, its logs in EXPERIMENT/launch/JOBID/.

    \b
    Examples:
      arena launch ac --slurm --dry-run
      arena launch ac --slurm --steps 2000000 --time 4:00:00 --partition gpu --gpus 1
      arena launch ac --slurm --nodes 4 --cpus 32 -- --eval-every 50
      arena launch ac --status
      arena launch ac --cancel
      arena launch ac --local --steps 20000
    """
    from arena import launch
    from arena.errors import ArenaError

    folder = launch.find_experiment(experiment)
    if status + cancel + dry_run > 1:
        raise ArenaError("--status, --cancel and --dry-run go one at a time")
    if status or cancel:
        if where or train_options:
            raise ArenaError(
                f"--{'status' if status else 'cancel'} takes only the experiment, not --slurm/--local or train options"
            )
        if status:
            for line in launch.status_lines(folder):
                click.echo(line)
        else:
            click.echo(launch.cancel(folder))
        return
    if where is None:
        raise ArenaError("say where to train: --slurm (submit a job) or --local (here); or ask --status or --cancel")
    for name, value, lowest in (
        ("nodes", nodes, 1),
        ("gpus", gpus, 0),
        ("cpus", cpus, 1),
        ("steps", steps, 1),
        ("workers", workers, 1),
    ):
        if value is not None and value < lowest:
            raise ArenaError(f"--{name} must be at least {lowest}, got {value}")
    if where == "local":
        given = [f"--{n}" for n, v in (("nodes", nodes > 1), ("gpus", gpus), ("cpus", cpus), ("partition", partition), ("qos", qos),
                                        ("time", time_limit), ("sbatch", sbatch_options), ("dry-run", dry_run)) if v]  # fmt: skip
        if given:
            raise ArenaError(
                f"{', '.join(given)} {'is a Slurm option' if len(given) == 1 else 'are Slurm options'}: drop it with --local, or use --slurm"
            )
    argv = launch.train_args(folder, steps=steps, extra=tuple(train_options), workers=workers)
    if where == "local":
        launch.run_local(folder, argv, workers=workers)
        return
    request = launch.SlurmRequest(
        nodes=nodes, gpus=gpus, cpus=cpus, partition=partition, qos=qos,
        time_min=launch.parse_time(time_limit) if time_limit is not None else launch.DEFAULT_TIME_MIN,
        extra=launch.parse_extra(sbatch_options),
    )  # fmt: skip
    if dry_run:
        import shutil

        if shutil.which("sinfo"):
            launch.check_slurm(partition)  # an unknown partition fails here too
        click.echo(launch.sbatch_script(folder, launch.slurm_parameters(request, folder.name)), nl=False)
        click.echo(f"\n# dry run: nothing submitted. On the job's first node it runs:\n#   {launch._command_line(argv, workers)}")
        if nodes > 1:
            click.echo("#   with --backend ray --address HEAD:PORT, a Ray head beside it and Ray workers on the other nodes")
        return
    record = launch.submit(folder, argv, request, workers=workers)
    click.echo(f"{folder.name}: submitted job {record['job_id']} to Slurm cluster {record['slurm_cluster'] or '?'}")
    click.echo(f"  command: {record['command']}")
    click.echo(f"  logs: {folder / record['logs']}/")
    click.echo(f"  follow it: arena launch {folder.name} --status   stop it: arena launch {folder.name} --cancel")
