from verify_cli.app import main

main()
