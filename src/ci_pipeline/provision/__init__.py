"""Provisioners: machines for the stages that boot, from local qemu, a lab over SSH, or linch-pin.

::

    base.py       the interface: Topology, Deployment, Host, ProvisionRequest, Provisioner
    registry.py   member name -> class ([provision.<stage>] provisioner)
    settings.py   the topology and request each stage asks for, from [provision]
    leasing.py    lease, provision, tear down, release: what a stage calls
    recovery.py   reclaiming the machines of holders that died (called by the scheduler)
    qemu.py       machines booted from the run's image on this host
    ssh.py        existing hosts of an inventory, the run's commit deployed onto them
    deploy.py     deploying a commit onto a running host over SSH and rebooting into it
    linchpin.py   linch-pin: a PinFile per attempt, ``linchpin up`` / ``destroy``, its inventory
    memory.py     machines that exist only in memory, for engine tests
"""
